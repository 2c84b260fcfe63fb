import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { VerifyPool } from "../../src/node/verify-pool.js";
import { checkEntry, type EntryContext } from "../../src/protocol/check-entry.js";
import { REPORT_SIGNING_TAG } from "../../src/protocol/constants.js";
import type { CarriedReport, Entry } from "../../src/protocol/envelope.js";
import { encodeReport, type SignedReport, signReport } from "../../src/protocol/report.js";
import {
  decodeRecord,
  encodeRevocation,
  signingTagOf,
  signRevocation,
} from "../../src/protocol/revocation.js";
import { sha256, signTagged, verifyTagged } from "../../src/protocol/signing.js";
import { testKey } from "../helpers/keys.js";

const origin = testKey(1);
const other = testKey(2);
const hop = testKey(3);
const self = testKey(4);
const now = Date.now();

/** Records as a friend could send them in a sync page: good ones and every kind of bad signature. */
function records(): { name: string; carried: CarriedReport; id: Buffer }[] {
  const good = signReport(
    { ip: "192.0.2.10", time: now, origin: origin.publicKey, jail: "sshd" },
    origin.signer,
  );
  const revocation = signRevocation(
    { ip: "192.0.2.10", time: now, origin: origin.publicKey, reason: "mistake" },
    origin.signer,
  );
  const flipped = Buffer.from(good.signature);
  flipped[7]! ^= 1;
  const byOther = signReport(
    { ip: "192.0.2.11", time: now, origin: origin.publicKey, jail: "sshd" },
    other.signer,
  );
  // A revocation signed under the report tag: the origin's key, the wrong domain.
  const revocationBytes = encodeRevocation({
    ip: "192.0.2.12",
    time: now,
    origin: origin.publicKey,
    reason: "x",
  });
  const wrongTag = signTagged(REPORT_SIGNING_TAG, revocationBytes, origin.signer);
  const garbage = Buffer.from("not a report at all");
  const asCarried = (s: SignedReport) => ({ bytes: s.bytes, signature: s.signature });
  return [
    { name: "valid report", carried: asCarried(good), id: good.id },
    { name: "valid revocation", carried: asCarried(revocation), id: revocation.id },
    { name: "flipped signature bit", carried: { bytes: good.bytes, signature: flipped }, id: good.id },
    { name: "signed by another key", carried: asCarried(byOther), id: byOther.id },
    {
      name: "revocation under the report tag",
      carried: { bytes: revocationBytes, signature: wrongTag },
      id: sha256(revocationBytes),
    },
    {
      name: "bytes that do not decode",
      carried: { bytes: garbage, signature: flipped },
      id: sha256(garbage),
    },
    {
      name: "short signature",
      carried: { bytes: encodeReport(good.report), signature: good.signature.subarray(0, 63) },
      id: good.id,
    },
  ];
}

/** What the main thread decides without the pool: the reference. */
function inline(c: CarriedReport): boolean {
  const decoded = decodeRecord(c.bytes);
  return decoded.ok && verifyTagged(signingTagOf(decoded.value), c.bytes, c.signature, decoded.value.origin);
}

describe("VerifyPool: origin signatures of sync pages checked on worker threads", () => {
  const pool = new VerifyPool(2);
  after(() => pool.close());

  it("gives, for every record, exactly the verdict the main thread's own check gives", async () => {
    const batch = records();
    const verdicts = await pool.verify(batch.map((r) => r.carried));
    for (const r of batch) assert.equal(verdicts(r.carried), inline(r.carried), r.name);
    assert.deepEqual(
      batch.map((r) => verdicts(r.carried)),
      [true, true, false, false, false, false, false],
    );
  });

  it("checkEntry with the pool's verdicts refuses and accepts exactly as without them", async () => {
    const batch = records();
    const verdicts = await pool.verify(batch.map((r) => r.carried));
    const ctx: EntryContext = {
      self: self.publicKey,
      hop: hop.publicKey,
      now,
      lifetimeMs: 86_400_000,
      maxHops: 6,
      known: () => undefined,
    };
    for (const r of batch) {
      const entry: Entry = { id: r.id, trust: 100, path: [origin.publicKey, hop.publicKey] };
      const without = checkEntry(entry, r.carried, ctx);
      const withPool = checkEntry(entry, r.carried, { ...ctx, verdict: verdicts });
      assert.deepEqual(withPool, without, r.name);
    }
    const refused = batch.map((r) =>
      checkEntry({ id: r.id, trust: 100, path: [origin.publicKey, hop.publicKey] }, r.carried, {
        ...ctx,
        verdict: verdicts,
      }),
    );
    assert.equal(refused[2]!.ok ? "ok" : refused[2]!.code, "bad-origin-signature");
    assert.equal(refused[4]!.ok ? "ok" : refused[4]!.code, "bad-origin-signature");
  });

  it("spreads batches over its threads and answers each batch with its own verdicts", async () => {
    const batches = Array.from({ length: 6 }, (_, i) =>
      Array.from({ length: 20 }, (_, j) => {
        const s = signReport(
          { ip: `198.51.100.${i * 20 + j + 1}`, time: now, origin: origin.publicKey, jail: "sshd" },
          origin.signer,
        );
        // Every third record of every batch is forged.
        return j % 3 === 0 ? { bytes: s.bytes, signature: Buffer.from(s.signature).fill(0, 0, 8) } : s;
      }),
    );
    const all = await Promise.all(batches.map((b) => pool.verify(b)));
    all.forEach((verdicts, i) => {
      batches[i]!.forEach((c, j) => {
        assert.equal(verdicts(c), j % 3 !== 0, `batch ${i} record ${j}`);
      });
    });
  });

  it("once closed, gives no verdicts: the caller checks every record itself", async () => {
    const closed = new VerifyPool(1);
    closed.close();
    const batch = records();
    const verdicts = await closed.verify(batch.map((r) => r.carried));
    for (const r of batch) assert.equal(verdicts(r.carried), undefined, r.name);
  });
});
