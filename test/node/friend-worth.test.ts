import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import {
  creditBan,
  creditConfirmations,
  formatWorthTable,
  friendWorth,
  median,
  RejectionTally,
} from "../../src/node/friend-worth.js";
import { importKey } from "../../src/node/import-source.js";
import { SqliteStore } from "../../src/state/sqlite-store.js";
import { MAX_LEAD_SAMPLES, type StoredContribution } from "../../src/state/store.js";
import { VIA_SELF } from "../../src/trust/rules.js";

const F1 = "11".repeat(32);
const F2 = "22".repeat(32);
const dirs: string[] = [];
const stores: SqliteStore[] = [];
after(() => {
  for (const s of stores) s.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function store(): { store: SqliteStore; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-worth-"));
  dirs.push(dir);
  const s = new SqliteStore(dir);
  stores.push(s);
  return { store: s, dir };
}

const contribution = (via: string, firstSeen: number, origin = "aa".repeat(32)): StoredContribution => ({
  origin,
  trust: 64,
  via,
  hops: 2,
  firstSeen,
  expiresAt: firstSeen + 86_400_000,
});

describe("friend worth", () => {
  it("median of odd and even lists", () => {
    assert.equal(median([]), undefined);
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  it("credits confirmations once per friend with the lead time of its earliest report", () => {
    const { store: s } = store();
    s.transaction(() =>
      creditConfirmations(
        s,
        [
          contribution(F1, 1_000, "aa".repeat(32)),
          contribution(F1, 4_000, "bb".repeat(32)),
          contribution(F2, 9_000),
          contribution(VIA_SELF, 0),
        ],
        11_000,
        12_000,
      ),
    );
    s.transaction(() => creditBan(s, [contribution(F1, 1_000), contribution(VIA_SELF, 0)]));
    const report = friendWorth(s, [
      { name: "one", key: F1 },
      { name: "two", key: F2 },
    ]);
    const [one, two] = report.friends;
    assert.equal(report.version, 1);
    assert.deepEqual(
      [one!.name, one!.confirmed, one!.leadSecondsMedian, one!.bans, one!.leadSamples],
      ["one", 1, 10, 1, 1],
    );
    assert.deepEqual([two!.name, two!.confirmed, two!.leadSecondsMedian, two!.bans], ["two", 1, 2, 0]);
  });

  it("survives a reopen, keeps the newest lead times only, adds refusals flushed from memory", () => {
    const { store: s, dir } = store();
    s.addFriendWorth(F1, { brought: 4 });
    s.transaction(() => {
      for (let i = 0; i < MAX_LEAD_SAMPLES + 5; i++) s.addLeadTime(F1, i, i < 5 ? 1_000_000 : 2_000);
    });
    const tally = new RejectionTally();
    tally.add(F1, "expired");
    tally.add(F1, "expired");
    tally.add(F1, "bad-origin-signature");
    const live = friendWorth(s, [{ name: "one", key: F1 }], tally.pending).friends[0]!;
    assert.deepEqual(live.rejected, { expired: 2, "bad-origin-signature": 1 });
    tally.flush(s);
    assert.equal(tally.pending.size, 0);
    s.close();
    const reopened = new SqliteStore(dir);
    stores.push(reopened);
    const w = friendWorth(reopened, [{ name: "one", key: F1 }]).friends[0]!;
    assert.equal(w.brought, 4);
    assert.equal(w.leadSamples, MAX_LEAD_SAMPLES);
    assert.equal(w.leadSecondsMedian, 2, "the five oldest (long) lead times were dropped");
    assert.deepEqual(w.rejected, { expired: 2, "bad-origin-signature": 1 });
    assert.equal(w.rejectedTotal, 3);
    assert.match(
      formatWorthTable({ version: 1, friends: [w] }),
      /^one .*4 +0 +0% +2 s .*3 \(bad-origin-signature 1, expired 2\)$/m,
    );
  });

  it("names import pseudo-friends and friends removed since", () => {
    const { store: s } = store();
    const imported = importKey({ trust: 40, relay: false }).toString("hex");
    s.addFriendWorth(imported, { brought: 2 });
    s.addFriendWorth(F2, { brought: 1 });
    const names = friendWorth(s, [{ name: "one", key: F1 }]).friends.map((f) => [f.name, f.brought]);
    assert.deepEqual(names, [
      ["one", 0],
      ["import (trust 40)", 2],
      ["?", 1],
    ]);
  });
});
