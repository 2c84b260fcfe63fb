/**
 * Property-based fuzzing of every message kind on the wire: origin reports and envelopes (the whole
 * message through openMessage). Each property runs at least 10,000 cases; none may throw, and every
 * refusal carries a reject code the spec lists.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import nacl from "tweetnacl";
import { MAX_ENTRIES, MAX_PATH } from "../../src/protocol/constants.js";
import { decodeEnvelope, encodeEnvelope, openMessage, sealEnvelope } from "../../src/protocol/envelope.js";
import { REJECT_SEVERITY } from "../../src/protocol/rejections.js";
import { decodeReport, encodeReport, signReport } from "../../src/protocol/report.js";
import { privateKeyObject } from "../../src/protocol/signing.js";

const RUNS = 10_000;
const CODES = new Set(Object.keys(REJECT_SEVERITY));

const key = (seed: number) => {
  const pair = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(seed));
  return { pub: Buffer.from(pair.publicKey), signer: privateKeyObject(Buffer.from(pair.secretKey)) };
};
const hop = key(1);
const me = key(2);
const origin = key(3);

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join("."));
const jail = fc.stringMatching(/^[A-Za-z0-9._-]{0,32}$/);
const time = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

function refusedWithKnownCode(result: { ok: boolean; code?: string }): void {
  if (!result.ok) assert.ok(CODES.has(result.code!), `unknown reject code ${result.code}`);
}

describe("fuzz: origin reports", () => {
  it("decodes any bytes without throwing; a refusal always has a listed code", () => {
    fc.assert(
      fc.property(bytes(200), (raw) => {
        refusedWithKnownCode(decodeReport(raw));
      }),
      { numRuns: RUNS },
    );
  });

  it("any valid report survives encode/decode unchanged", () => {
    fc.assert(
      fc.property(ipv4, jail, time, (ip, jailName, t) => {
        const report = { ip, time: t, origin: origin.pub, jail: jailName };
        const decoded = decodeReport(encodeReport(report));
        assert.ok(decoded.ok);
        assert.deepEqual(decoded.value, report);
      }),
      { numRuns: RUNS },
    );
  });

  it("one flipped byte in a report is refused, or decodes to other fields that encode to exactly those bytes", () => {
    const bytesOf = encodeReport({
      ip: "203.0.113.7",
      time: 1_800_000_000_000,
      origin: origin.pub,
      jail: "sshd",
    });
    fc.assert(
      fc.property(fc.nat(bytesOf.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const copy = Buffer.from(bytesOf);
        copy[at]! ^= xor;
        const decoded = decodeReport(copy);
        refusedWithKnownCode(decoded);
        // Only canonical bytes decode: what was accepted is what the fields say, byte for byte.
        if (decoded.ok) assert.ok(encodeReport(decoded.value).equals(copy));
      }),
      { numRuns: RUNS },
    );
  });
});

describe("fuzz: envelopes and whole messages", () => {
  const recipient = {
    self: me.pub,
    friendBySigningKey: (k: Buffer) => (k.equals(hop.pub) ? "hop" : undefined),
  };
  const entry = fc.record({
    id: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)),
    trust: fc.nat(255),
    path: fc
      .array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: MAX_PATH })
      .map((keys) => keys.map((k) => Buffer.from(k))),
  });

  it("decodes any bytes as an envelope without throwing", () => {
    fc.assert(
      fc.property(bytes(600), (raw) => {
        refusedWithKnownCode(decodeEnvelope(raw));
      }),
      { numRuns: RUNS },
    );
  });

  it("any well-formed envelope survives encode/decode", () => {
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 8 }), (entries) => {
        const decoded = decodeEnvelope(encodeEnvelope({ from: hop.pub, to: me.pub, entries }));
        assert.ok(decoded.ok);
        assert.equal(decoded.value.entries.length, entries.length);
        entries.forEach((e, i) => {
          assert.ok(decoded.value.entries[i]!.id.equals(e.id));
          assert.equal(decoded.value.entries[i]!.trust, e.trust);
          assert.equal(decoded.value.entries[i]!.path.length, e.path.length);
        });
      }),
      { numRuns: RUNS },
    );
  });

  it("opens any list of frames without throwing", () => {
    fc.assert(
      fc.property(fc.array(bytes(300), { maxLength: 2 * MAX_ENTRIES + 4 }), (frames) => {
        refusedWithKnownCode(openMessage(frames, recipient));
      }),
      { numRuns: RUNS },
    );
  });

  it("never opens a sealed message with one byte of its envelope or signature changed", () => {
    const signed = signReport(
      { ip: "198.51.100.7", time: 1_800_000_000_000, origin: hop.pub, jail: "" },
      hop.signer,
    );
    const frames = sealEnvelope(
      { from: hop.pub, to: me.pub, entries: [{ id: signed.id, trust: 100, path: [hop.pub] }] },
      [signed],
      hop.signer,
    );
    assert.ok(openMessage(frames, recipient).ok);
    fc.assert(
      fc.property(fc.nat(1), fc.nat(), fc.integer({ min: 1, max: 255 }), (f, at, xor) => {
        const copy = frames.map((frame) => Buffer.from(frame));
        copy[f]![at % copy[f]!.length]! ^= xor;
        const opened = openMessage(copy, recipient);
        assert.equal(opened.ok, false);
        refusedWithKnownCode(opened);
      }),
      { numRuns: RUNS },
    );
  });
});
