import assert from "node:assert/strict";
import crypto from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import nacl from "tweetnacl";
import { privateKeyObject, publicKeyObject, verifyTagged } from "../../src/protocol/signing.js";

describe("Ed25519: node:crypto on the hot path, tweetnacl's keys on disk", () => {
  it("produces byte-identical signatures to tweetnacl for the same key and message", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 512 }),
        (seed, msg) => {
          const pair = nacl.sign.keyPair.fromSeed(seed);
          const native = crypto.sign(null, msg, privateKeyObject(pair.secretKey));
          const reference = nacl.sign.detached(msg, pair.secretKey);
          assert.deepEqual(new Uint8Array(native), reference);
          assert.equal(crypto.verify(null, msg, publicKeyObject(pair.publicKey), reference), true);
          assert.equal(nacl.sign.detached.verify(msg, new Uint8Array(native), pair.publicKey), true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("verifyTagged refuses malformed keys and signatures instead of throwing", () => {
    const tag = Buffer.from("t\0");
    assert.equal(verifyTagged(tag, Buffer.from("x"), Buffer.alloc(63), Buffer.alloc(32)), false);
    assert.equal(verifyTagged(tag, Buffer.from("x"), Buffer.alloc(64), Buffer.alloc(31)), false);
    assert.equal(verifyTagged(tag, Buffer.from("x"), Buffer.alloc(64), Buffer.alloc(32)), false);
  });
});
