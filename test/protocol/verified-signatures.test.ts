import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateIdentity } from "../../src/keys/identity.js";
import { checkStoredReport } from "../../src/protocol/check-entry.js";
import { signReport } from "../../src/protocol/report.js";
import { VerifiedSignatures } from "../../src/protocol/verified-signatures.js";

const LIFETIME_MS = 86_400_000;

function signed(ip: string, time: number) {
  const origin = generateIdentity();
  return signReport({ ip, time, origin: origin.signingPublicKey, jail: "sshd" }, origin.signer);
}

describe("signatures found valid once are not verified again", () => {
  it("remembers a record by id and whole signature; another signature or id is not remembered", () => {
    const memo = new VerifiedSignatures(8);
    const r = signed("203.0.113.10", Date.now());
    memo.add(r.id, r.signature);
    assert.equal(memo.has(Buffer.from(r.id), Buffer.from(r.signature)), true);
    const otherSignature = Buffer.from(r.signature);
    otherSignature[63]! ^= 1;
    assert.equal(memo.has(r.id, otherSignature), false);
    const otherId = Buffer.from(r.id);
    otherId[0]! ^= 1;
    assert.equal(memo.has(otherId, r.signature), false);
  });

  it("holds at most its capacity, keeping the most recently added", () => {
    const memo = new VerifiedSignatures(4);
    const records = Array.from({ length: 7 }, (_, i) => signed(`203.0.113.${20 + i}`, Date.now()));
    for (const r of records) memo.add(r.id, r.signature);
    assert.ok(memo.size <= 4, `size ${memo.size}`);
    const last = records[records.length - 1]!;
    assert.equal(memo.has(last.id, last.signature), true);
    assert.equal(memo.has(records[0]!.id, records[0]!.signature), false);
    assert.throws(() => new VerifiedSignatures(1), RangeError);
  });

  it("a stored report re-checked with the memo: verified once, then taken from it; damage is still found", () => {
    const now = Date.now();
    const memo = new VerifiedSignatures();
    const r = signed("2001:db8::10", now);
    assert.equal(checkStoredReport(r, now, LIFETIME_MS, undefined, memo).ok, true);
    assert.equal(memo.has(r.id, r.signature), true, "a verified record is remembered");

    // A damaged signature is not the one remembered: verified in full, refused.
    const badSignature = Buffer.from(r.signature);
    badSignature[10]! ^= 0x40;
    const refused = checkStoredReport({ ...r, signature: badSignature }, now, LIFETIME_MS, undefined, memo);
    assert.deepEqual(refused.ok ? "ok" : refused.code, "bad-origin-signature");

    // Damaged bytes no longer hash to the id: refused before the memo is asked.
    const badBytes = Buffer.from(r.bytes);
    badBytes[badBytes.length - 1]! ^= 1;
    const damaged = checkStoredReport({ ...r, bytes: badBytes }, now, LIFETIME_MS, undefined, memo);
    assert.deepEqual(damaged.ok ? "ok" : damaged.code, "id-mismatch");

    // The memo is what decides: a pair put there passes without Ed25519 (which would refuse it).
    const forged = { ...r, signature: Buffer.alloc(64, 7) };
    memo.add(forged.id, forged.signature);
    assert.equal(checkStoredReport(forged, now, LIFETIME_MS, undefined, memo).ok, true);
    assert.equal(checkStoredReport(forged, now, LIFETIME_MS).ok, false);

    // Expiry is checked whatever the memo holds.
    const expired = checkStoredReport(r, now + LIFETIME_MS, LIFETIME_MS, undefined, memo);
    assert.deepEqual(expired.ok ? "ok" : expired.code, "expired");
  });
});
