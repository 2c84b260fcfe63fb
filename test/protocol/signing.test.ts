import assert from "node:assert/strict";
import crypto from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import nacl from "tweetnacl";
import { privateKeyObject, publicKeyObject, sha256, verifyTagged } from "../../src/protocol/signing.js";

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

describe("sha256: ids of reports and revocations", () => {
  it("gives FIPS 180-4's digests as a Buffer", () => {
    const abc = sha256(Buffer.from("abc"));
    assert.ok(Buffer.isBuffer(abc));
    assert.equal(abc.toString("hex"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(
      sha256(new Uint8Array(0)).toString("hex"),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });

  it("hashes exactly the bytes of a view into a larger buffer, as a Hash object does", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const start = bytes.length === 0 ? 0 : a % bytes.length;
        const view = bytes.subarray(start, start + (b % (bytes.length - start + 1)));
        assert.deepEqual(sha256(view), crypto.createHash("sha256").update(view).digest());
      }),
      { numRuns: 500 },
    );
  });
});
