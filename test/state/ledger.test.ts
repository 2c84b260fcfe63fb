import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { signReport } from "../../src/protocol/report.js";
import { signRevocation } from "../../src/protocol/revocation.js";
import { type Arrival, Ledger } from "../../src/state/ledger.js";
import { SqliteStore } from "../../src/state/sqlite-store.js";
import { VIA_SELF } from "../../src/trust/rules.js";
import { testKey } from "../helpers/keys.js";

const T0 = 1_767_225_600_000;
const DAY = 86_400_000;
/** Friends by signing key (hex), named after the trust this node gives them. */
const F80 = "80".repeat(32);
const F60 = "60".repeat(32);
const F100 = "a0".repeat(32);
const friendTrust: Record<string, number> = { [F80]: 80, [F60]: 60, [F100]: 100 };

const stores: SqliteStore[] = [];
after(() => {
  for (const s of stores) s.close();
});

/** A Ledger over a fresh store in a temp dir, deciding bans the way the node does. */
function ledger(threshold = 80, maxReportsPerFriend = 1000) {
  const store = new SqliteStore(fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-ledger-")));
  stores.push(store);
  const l = new Ledger(store, {
    lifetimeMs: DAY,
    threshold,
    trustOfVia: (via: string) => friendTrust[via] ?? 0,
    maxReportsPerFriend,
  });
  return {
    apply(arrival: Omit<Arrival, "at"> & { at?: number }) {
      const at = arrival.at ?? arrival.signed.report.time;
      const outcome = store.transaction(() => l.apply({ ...arrival, at }));
      if (outcome.kind === "accepted" && outcome.banNow) {
        const { ip } = arrival.signed.report;
        const ban = { ip, score: outcome.score, origin: "o", hops: 0, decidedAt: at, withheld: false };
        store.decideBan({ ...ban, writtenAt: at });
      }
      return outcome;
    },
    score: (ip: string) => l.score(ip),
    isBanned: (ip: string) => l.isBanned(ip),
    known: (id: Buffer) => l.known(id, T0),
    contributions: (ip: string) => l.contributions(ip),
    broughtBy: (via: string) => l.broughtBy(via),
    /** Expiry steps of `step` until done; returns how many steps it took. */
    expire(now: number, step = 5000): number {
      let steps = 1;
      while (!l.expireStep(now, step).done) steps++;
      return steps;
    },
    counts: () => store.counts(),
  };
}

function report(originSeed: number, ip = "203.0.113.7", time = T0) {
  const key = testKey(originSeed);
  return signReport({ ip, time, origin: key.publicKey, jail: "sshd" }, key.signer);
}

describe("Ledger", () => {
  it("bans exactly once, when the score first reaches the threshold", () => {
    const l = ledger(80);
    const first = l.apply({ signed: report(1), trust: 64, via: F80, path: [] });
    assert.ok(first.kind === "accepted" && !first.banNow && first.score === 64);
    const second = l.apply({ signed: report(2), trust: 40, via: F100, path: [] });
    assert.ok(second.kind === "accepted" && second.banNow && second.score === 100);
    const third = l.apply({ signed: report(5), trust: 50, via: F60, path: [] });
    assert.ok(third.kind === "accepted" && !third.banNow);
  });

  it("drops a copy with equal or lower trust and takes a better path", () => {
    const l = ledger();
    const signed = report(1);
    l.apply({ signed, trust: 51, via: F80, path: [] });
    assert.equal(l.apply({ signed, trust: 51, via: F100, path: [] }).kind, "no-gain");
    assert.equal(l.apply({ signed, trust: 40, via: F100, path: [] }).kind, "no-gain");
    const better = l.apply({ signed, trust: 64, via: F100, path: [] });
    assert.ok(better.kind === "accepted" && better.score === 64);
    assert.equal(l.score("203.0.113.7"), 64);
  });

  it("keeps and passes on a weaker copy with a shorter path, without changing the score", () => {
    const l = ledger();
    const signed = report(1);
    const long = [testKey(1).publicKey, testKey(7).publicKey, testKey(8).publicKey];
    l.apply({ signed, trust: 76, via: F100, path: long });
    const shorter = l.apply({ signed, trust: 71, via: F80, path: long.slice(0, 2) });
    assert.ok(shorter.kind === "accepted" && !shorter.banNow);
    assert.equal(shorter.copy.trust, 71);
    assert.equal(shorter.copy.path.length, 2);
    assert.equal(l.score("203.0.113.7"), 76);
    assert.equal(l.known(signed.id)!.trust, 76);
    assert.equal(l.apply({ signed, trust: 70, via: F80, path: long.slice(0, 2) }).kind, "no-gain");
    assert.equal(l.apply({ signed, trust: 76, via: F80, path: long }).kind, "no-gain");
  });

  it("counts one origin once per IP, however many reports it sends", () => {
    const l = ledger();
    l.apply({ signed: report(1, "203.0.113.7", T0), trust: 50, via: F100, path: [] });
    l.apply({ signed: report(1, "203.0.113.7", T0 + 1000), trust: 50, via: F100, path: [] });
    assert.equal(l.score("203.0.113.7"), 50);
  });

  it("keeps one friend's origins under that friend's trust", () => {
    const l = ledger(80);
    for (let seed = 10; seed < 30; seed++) l.apply({ signed: report(seed), trust: 60, via: F60, path: [] });
    assert.equal(l.score("203.0.113.7"), 60);
    assert.equal(l.isBanned("203.0.113.7"), false);
  });

  it("our own report counts in full", () => {
    const l = ledger(100);
    const outcome = l.apply({ signed: report(1), trust: 100, via: VIA_SELF, path: [] });
    assert.ok(outcome.kind === "accepted" && outcome.banNow);
  });

  it("forgets everything after the report lifetime, and the IP may be banned again", () => {
    const l = ledger(80);
    l.apply({ signed: report(1), trust: 80, via: F80, path: [] });
    assert.equal(l.isBanned("203.0.113.7"), true);
    l.expire(T0 + DAY - 1);
    assert.equal(l.counts().reports, 1);
    l.expire(T0 + DAY);
    assert.equal(l.counts().reports, 0);
    assert.equal(l.counts().ips, 0);
    const again = l.apply({ signed: report(1, "203.0.113.7", T0 + DAY), trust: 80, via: F80, path: [] });
    assert.ok(again.kind === "accepted" && again.banNow);
  });

  it("expires in steps, leaving what is still live", () => {
    const l = ledger(80, 1000);
    for (let i = 0; i < 50; i++) {
      l.apply({
        signed: report(100 + i, `198.51.100.${i}`, T0 + (i % 2) * DAY),
        trust: 60,
        via: F60,
        path: [],
      });
    }
    const steps = l.expire(T0 + DAY, 10);
    assert.equal(steps, 3); // 25 expired reports and contributions, at most 10 a step
    assert.equal(l.counts().reports, 25);
    assert.equal(l.counts().ips, 25);
    assert.equal(l.broughtBy(F60), 25);
  });

  it("refuses new reports from a friend over its quota, until its older ones expire", () => {
    const l = ledger(80, 3);
    for (let seed = 10; seed < 13; seed++) {
      assert.equal(
        l.apply({ signed: report(seed, `192.0.2.${seed}`), trust: 60, via: F60, path: [] }).kind,
        "accepted",
      );
    }
    assert.equal(
      l.apply({ signed: report(20, "192.0.2.20"), trust: 60, via: F60, path: [] }).kind,
      "over-quota",
    );
    // Other friends and our own reports are not affected; a better copy of a held report still counts.
    assert.equal(
      l.apply({ signed: report(20, "192.0.2.20"), trust: 80, via: F80, path: [] }).kind,
      "accepted",
    );
    assert.equal(
      l.apply({ signed: report(21, "192.0.2.21"), trust: 100, via: VIA_SELF, path: [] }).kind,
      "accepted",
    );
    assert.equal(
      l.apply({ signed: report(10, "192.0.2.10"), trust: 80, via: F80, path: [] }).kind,
      "accepted",
    );
    assert.equal(l.broughtBy(F60), 3);
    l.expire(T0 + DAY);
    assert.equal(l.broughtBy(F60), 0);
    assert.equal(
      l.apply({ signed: report(22, "192.0.2.22", T0 + DAY), trust: 60, via: F60, path: [] }).kind,
      "accepted",
    );
  });

  it("lists contributions strongest first, with origin and hop count", () => {
    const l = ledger();
    const a = testKey(1);
    l.apply({
      signed: report(1),
      trust: 51,
      via: F80,
      path: [a.publicKey, testKey(7).publicKey, testKey(8).publicKey],
    });
    l.apply({ signed: report(2), trust: 64, via: F80, path: [testKey(2).publicKey, testKey(7).publicKey] });
    const [first, second] = l.contributions("203.0.113.7");
    assert.deepEqual(
      { ...first, expiresAt: 0, firstSeen: 0 },
      {
        origin: testKey(2).publicKey.toString("hex"),
        trust: 64,
        via: F80,
        hops: 2,
        expiresAt: 0,
        firstSeen: 0,
      },
    );
    assert.equal(second!.hops, 3);
  });
});

function revocation(originSeed: number, ip = "203.0.113.7", time = T0 + 1000, reason = "mistake") {
  const key = testKey(originSeed);
  return signRevocation({ ip, time, origin: key.publicKey, reason }, key.signer);
}

describe("Ledger: revocations (docs/protocol.md section 17.4)", () => {
  it("removes the origin's contribution, says to lift a ban the score falls below, and refuses the report after", () => {
    const l = ledger(80);
    const signed = report(1);
    const a = l.apply({ signed, trust: 80, via: F80, path: [] });
    assert.ok(a.kind === "accepted" && a.banNow);
    l.apply({ signed: report(2), trust: 30, via: F60, path: [] });
    assert.equal(l.score("203.0.113.7"), 100);

    const revoked = l.apply({ signed: revocation(1), trust: 80, via: F80, path: [] });
    assert.ok(revoked.kind === "accepted");
    assert.equal(revoked.score, 30, "origin 2's report still counts");
    assert.equal(revoked.lift, true, "below the threshold of a ban in force");
    assert.equal(revoked.banNow, false);
    assert.deepEqual(
      l.contributions("203.0.113.7").map((c) => c.origin),
      [testKey(2).publicKey.toString("hex")],
    );
    // The same report again, even a better copy through another friend: refused, no contribution.
    assert.deepEqual(l.apply({ signed, trust: 100, via: F100, path: [] }), { kind: "revoked" });
    assert.equal(l.score("203.0.113.7"), 30);
    // The revocation again: a copy of one held, nothing new.
    assert.equal(l.apply({ signed: revocation(1), trust: 80, via: F80, path: [] }).kind, "no-gain");
  });

  it("a report made after the revocation is a new detection and counts", () => {
    const l = ledger(80);
    l.apply({ signed: revocation(1, "203.0.113.8", T0), trust: 80, via: F80, path: [] });
    assert.deepEqual(l.apply({ signed: report(1, "203.0.113.8", T0 - 1), trust: 80, via: F80, path: [] }), {
      kind: "revoked",
    });
    const later = l.apply({ signed: report(1, "203.0.113.8", T0 + 1), trust: 80, via: F80, path: [] });
    assert.ok(later.kind === "accepted" && later.banNow);
    // A revocation older than the newest report leaves the contribution in place.
    const older = l.apply({
      signed: revocation(1, "203.0.113.8", T0, "second thoughts"),
      trust: 80,
      via: F80,
      path: [],
    });
    assert.ok(older.kind === "accepted" && !older.lift);
    assert.equal(l.score("203.0.113.8"), 80);
  });

  it("is held for the report lifetime after its own time, then forgotten with the ban record", () => {
    const l = ledger(80);
    const ip = "203.0.113.9";
    l.apply({ signed: report(1, ip, T0), trust: 80, via: F80, path: [] });
    assert.equal(l.isBanned(ip), true);
    l.apply({ signed: revocation(1, ip, T0 + 1000), trust: 80, via: F80, path: [] });
    assert.equal(l.score(ip), 0);
    l.expire(T0 + DAY);
    // The report is gone; the revocation still refuses any copy a friend may hold.
    assert.deepEqual(l.apply({ signed: report(1, ip, T0), trust: 80, via: F80, path: [], at: T0 + DAY }), {
      kind: "revoked",
    });
    l.expire(T0 + DAY + 1000);
    assert.equal(l.counts().reports, 0, "report and revocation expired");
    assert.equal(l.counts().bans, 0, "no ban record left for an address with no live report");
  });
});
