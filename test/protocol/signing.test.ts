import assert from "node:assert/strict";
import crypto from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import nacl from "tweetnacl";
import { parseIp } from "../../src/protocol/ip.js";
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

describe("IP parsing uses node's parser and normalises", () => {
  it("normalises IPv6 and folds IPv4-mapped addresses", () => {
    assert.deepEqual(parseIp("2001:DB8:0:0::7"), { text: "2001:db8::7", family: 6 });
    assert.deepEqual(parseIp("::ffff:203.0.113.9"), { text: "203.0.113.9", family: 4 });
    assert.deepEqual(parseIp("198.51.100.1"), { text: "198.51.100.1", family: 4 });
  });

  it("refuses what is not a single address", () => {
    for (const bad of [
      "",
      "203.0.113.07",
      "203.0.113",
      "fe80::1%eth0",
      "203.0.113.0/24",
      "host.example",
      "1".repeat(50),
    ]) {
      assert.equal(parseIp(bad), null, bad);
    }
  });
});
