/**
 * Revocation (docs/protocol.md section 17): the test vector of 16.8 as the code produces it,
 * encode/decode round trips, every field check with its code, and the entry checks of 17.3 on the
 * real receive path (openMessage, then checkEntry).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { checkEntry, checkStoredReport, type EntryContext } from "../../src/protocol/check-entry.js";
import {
  MAX_IP_BYTES,
  MAX_RECORD_BYTES,
  MAX_REVOCATION_BYTES,
  REPORT_SIGNING_TAG,
  REVOCATION_SIGNING_TAG,
} from "../../src/protocol/constants.js";
import { openMessage, sealEnvelope } from "../../src/protocol/envelope.js";
import { REJECT_SEVERITY, type RejectCode } from "../../src/protocol/rejections.js";
import { type SignedReport, signReport } from "../../src/protocol/report.js";
import {
  decodeRecord,
  decodeRevocation,
  encodeRevocation,
  type Revocation,
  signRevocation,
} from "../../src/protocol/revocation.js";
import { sha256, signTagged, verifyTagged } from "../../src/protocol/signing.js";
import { testKey } from "../helpers/keys.js";

const a = testKey(1);
const b = testKey(2);
const me = testKey(3);
const NOW = 1_767_229_200_000;
const DAY = 86_400_000;

/** The hex blocks of one section of docs/protocol.md, each joined into one string. */
function vectors(heading: string): string[] {
  const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");
  const start = doc.indexOf(heading);
  assert.ok(start >= 0, heading);
  const section = doc.slice(start, doc.indexOf("\n## ", start + heading.length));
  return [...section.matchAll(/```\n([0-9a-f\n]+)```/g)].map((m) => m[1]!.replace(/\n/g, ""));
}

function revocation(overrides: Partial<Revocation> = {}): Revocation {
  return { ip: "203.0.113.7", time: NOW - 1000, origin: a.publicKey, reason: "mistake", ...overrides };
}

const ctx: EntryContext = {
  self: me.publicKey,
  hop: b.publicKey,
  now: NOW,
  lifetimeMs: DAY,
  maxHops: 6,
  known: () => undefined,
};

/** The whole receive path for one entry sent by b with path [a, b]; the reject code or "ok". */
function receive(signed: SignedReport, path = [a.publicKey, b.publicKey], context = ctx): RejectCode | "ok" {
  const frames = sealEnvelope(
    { from: b.publicKey, to: me.publicKey, entries: [{ id: signed.id, trust: 100, path }] },
    [signed],
    b.signer,
  );
  const opened = openMessage(frames, {
    self: me.publicKey,
    friendBySigningKey: (k: Buffer) => (k.equals(b.publicKey) ? "b" : undefined),
  });
  if (!opened.ok) return opened.code;
  const checked = checkEntry(opened.value.envelope.entries[0]!, opened.value.reports[0]!, context);
  return checked.ok ? "ok" : checked.code;
}

/** Bytes signed as a revocation by `key`, whatever they say. */
function signedBytes(bytes: Buffer, key = a): SignedReport {
  return {
    report: { ip: "", time: 0, origin: a.publicKey, jail: "" },
    bytes,
    signature: signTagged(REVOCATION_SIGNING_TAG, bytes, key.signer),
    id: sha256(bytes),
  };
}

describe("docs/protocol.md 16.8: revocation test vector", () => {
  it("bytes, bytes signed, signature and id are what the code makes", () => {
    const [bytes, tagged, signature, id] = vectors("### 16.8");
    const signed = signRevocation(
      { ip: "203.0.113.7", time: 1767229200000, origin: a.publicKey, reason: "mistake" },
      a.signer,
    );
    assert.equal(signed.bytes.toString("hex"), bytes);
    assert.equal(Buffer.concat([REVOCATION_SIGNING_TAG, signed.bytes]).toString("hex"), tagged);
    assert.equal(signed.signature.toString("hex"), signature);
    assert.equal(signed.id.toString("hex"), id);
    assert.ok(verifyTagged(REVOCATION_SIGNING_TAG, signed.bytes, signed.signature, a.publicKey));
    // Domain separation: the same signature never verifies as a report's.
    assert.ok(!verifyTagged(REPORT_SIGNING_TAG, signed.bytes, signed.signature, a.publicKey));
  });

  it("the tag and the limits are the documented ones", () => {
    assert.equal(REVOCATION_SIGNING_TAG.toString("latin1"), "f2bp2p/v1/revocation\0");
    assert.equal(MAX_REVOCATION_BYTES, 153);
    assert.equal(MAX_RECORD_BYTES, 153);
    assert.equal(REJECT_SEVERITY.revoked, "stale");
  });
});

describe("revocation: encode and decode", () => {
  it("round-trips any canonical IP, time and printable reason", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4(), fc.constantFrom("2001:db8::7", "2001:db8:1:2:3:4:5:6", "::1")),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.stringMatching(/^[\x20-\x7e]{0,64}$/),
        (ip, time, reason) => {
          const r = revocation({ ip, time, reason });
          const decoded = decodeRevocation(encodeRevocation(r));
          assert.ok(decoded.ok);
          assert.deepEqual(decoded.value, r);
          const record = decodeRecord(encodeRevocation(r));
          assert.ok(record.ok);
          assert.deepEqual(record.value.revocation, { reason });
          assert.equal(record.value.jail, "");
        },
      ),
    );
  });

  it("refuses every malformed field with its code", () => {
    const good = encodeRevocation(revocation());
    const at = (i: number, v: number): Buffer => {
      const copy = Buffer.from(good);
      copy[i] = v;
      return copy;
    };
    const code = (bytes: Buffer) => {
      const d = decodeRevocation(bytes);
      return d.ok ? "ok" : d.code;
    };
    assert.equal(code(good), "ok");
    assert.equal(code(good.subarray(0, 1)), "malformed");
    assert.equal(code(at(0, 2)), "bad-version");
    assert.equal(code(at(1, 1)), "bad-kind");
    assert.equal(code(good.subarray(0, 43)), "malformed");
    assert.equal(code(at(2, MAX_IP_BYTES + 1)), "field-too-large");
    assert.equal(code(at(3, 65)), "field-too-large");
    assert.equal(code(Buffer.concat([good, Buffer.from("x")])), "malformed", "trailing byte");
    assert.equal(code(Buffer.alloc(MAX_REVOCATION_BYTES + 1, 1)), "bad-kind");
    const tooLong = Buffer.concat([at(1, 5), Buffer.alloc(MAX_REVOCATION_BYTES)]);
    assert.equal(code(tooLong), "frame-too-large");
    const future = Buffer.from(good);
    future.writeBigUInt64BE(2n ** 53n, 4);
    assert.equal(code(future), "malformed", "time over 2^53 - 1");
    const ctl = Buffer.from(encodeRevocation(revocation({ reason: "tab\there" })));
    assert.equal(code(ctl), "malformed", "control character in the reason");
    const dotted = encodeRevocation(revocation({ ip: "203.000.113.7" }));
    assert.equal(code(dotted), "invalid-ip");
  });

  it("will not sign a reason that is not 0-64 printable ASCII characters", () => {
    assert.throws(() => signRevocation(revocation({ reason: "x".repeat(65) }), a.signer), /printable ASCII/);
    assert.throws(() => signRevocation(revocation({ reason: "caf\u00e9" }), a.signer), /printable ASCII/);
    assert.ok(signRevocation(revocation({ reason: "" }), a.signer).bytes.length === 44 + 11);
  });
});

describe("revocation: entry checks (section 17.3)", () => {
  it("a revocation signed by its origin is accepted, at its full size too", () => {
    assert.equal(receive(signRevocation(revocation(), a.signer)), "ok");
    const largest = signRevocation(
      revocation({ ip: "2001:db8:1234:5678:9abc:def0:1234:5678", reason: "r".repeat(64) }),
      a.signer,
    );
    assert.equal(receive(largest), "ok");
  });

  it("a revocation naming origin a but signed by b is bad-origin-signature (a friend-fault)", () => {
    const forged = signedBytes(encodeRevocation(revocation()), b);
    assert.equal(receive(forged), "bad-origin-signature");
    assert.equal(REJECT_SEVERITY["bad-origin-signature"], "friend-fault");
    // Signed by a, but as a report (wrong tag): refused the same way.
    const wrongTag = {
      ...forged,
      signature: signTagged(REPORT_SIGNING_TAG, forged.bytes, a.signer),
    };
    assert.equal(receive(wrongTag), "bad-origin-signature");
  });

  it("path, id and time rules are a report's", () => {
    const signed = signRevocation(revocation(), a.signer);
    assert.equal(receive(signed, [b.publicKey]), "bad-path", "origin is not the first path key");
    assert.equal(receive({ ...signed, id: sha256(Buffer.from("other")) }), "id-mismatch");
    assert.equal(receive(signRevocation(revocation({ time: NOW - DAY }), a.signer)), "expired");
    assert.equal(receive(signRevocation(revocation({ time: NOW + 300_001 }), a.signer)), "from-future");
  });

  it("a stored revocation is re-checked like a stored report", () => {
    const signed = signRevocation(revocation(), a.signer);
    assert.ok(checkStoredReport(signed, NOW, DAY).ok);
    const forged = signedBytes(signed.bytes, b);
    const checked = checkStoredReport(forged, NOW, DAY);
    assert.deepEqual(checked, { ok: false, code: "bad-origin-signature" });
  });

  it("reports and revocations do not verify as one another", () => {
    const report = signReport(
      { ip: "203.0.113.7", time: NOW - 1000, origin: a.publicKey, jail: "" },
      a.signer,
    );
    assert.equal(receive(report), "ok");
    assert.equal(
      receive({ ...report, signature: signTagged(REVOCATION_SIGNING_TAG, report.bytes, a.signer) }),
      "bad-origin-signature",
    );
  });
});
