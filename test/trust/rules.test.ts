import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  forwardTargets,
  ipScore,
  isImprovement,
  reachesThreshold,
  relayedTrust,
  undominated,
  VIA_SELF,
} from "../../src/trust/rules.js";

const trusts: Record<string, number> = { f60: 60, f80: 80, f100: 100, f0: 0 };
const trustOf = (via: string): number => trusts[via] ?? 0;

describe("relayedTrust: decay per hop", () => {
  it("gives fail2ban-p2p's numbers along a line of 80s: 100, 80, 64, 51, 40", () => {
    const line = [100];
    for (let i = 0; i < 4; i++) line.push(relayedTrust(line[line.length - 1]!, 80));
    assert.deepEqual(line, [100, 80, 64, 51, 40]);
  });

  it("rounds down, so decay never lifts a report over a threshold", () => {
    assert.equal(relayedTrust(99, 81), 80); // 80.19
    assert.equal(relayedTrust(100, 79), 79);
    assert.equal(relayedTrust(1, 99), 0);
  });

  it("a friend trusted 0 passes on nothing, a friend trusted 100 passes on everything", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), (t) => {
        assert.equal(relayedTrust(t, 0), 0);
        assert.equal(relayedTrust(t, 100), t);
      }),
    );
  });

  it("never exceeds either input", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (t, f) => {
        const r = relayedTrust(t, f);
        assert.ok(r <= t && r <= f && r >= 0);
      }),
    );
  });
});

describe("ipScore: accumulation and caps", () => {
  it("adds distinct origins", () => {
    assert.equal(
      ipScore(
        [
          { trust: 40, via: "f100" },
          { trust: 30, via: "f80" },
        ],
        trustOf,
      ),
      70,
    );
  });

  it("caps the total at 100", () => {
    assert.equal(
      ipScore(
        [
          { trust: 64, via: "f80" },
          { trust: 64, via: "f100" },
        ],
        trustOf,
      ),
      100,
    );
  });

  it("never lets one friend count for more than its own trust, however many origins it invents", () => {
    const invented = Array.from({ length: 50 }, () => ({ trust: 60, via: "f60" }));
    assert.equal(ipScore(invented, trustOf), 60);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 200 }), (ts) => {
        assert.ok(
          ipScore(
            ts.map((trust) => ({ trust, via: "f60" })),
            trustOf,
          ) <= 60,
        );
      }),
    );
  });

  it("counts our own report in full", () => {
    assert.equal(ipScore([{ trust: 100, via: VIA_SELF }], trustOf), 100);
  });

  it("is 0 with nothing, and through an unknown or zero-trust friend", () => {
    assert.equal(ipScore([], trustOf), 0);
    assert.equal(ipScore([{ trust: 90, via: "gone" }], trustOf), 0);
    assert.equal(ipScore([{ trust: 90, via: "f0" }], trustOf), 0);
  });

  it("stays within 0..100 for any mix", () => {
    const via = fc.constantFrom("f60", "f80", "f100", VIA_SELF);
    fc.assert(
      fc.property(fc.array(fc.record({ trust: fc.integer({ min: 0, max: 100 }), via })), (cs) => {
        const s = ipScore(cs, trustOf);
        assert.ok(s >= 0 && s <= 100);
      }),
    );
  });
});

describe("threshold edges", () => {
  it("bans at exactly the threshold, not one below, and only once", () => {
    assert.equal(reachesThreshold(80, 80, false), true);
    assert.equal(reachesThreshold(79, 80, false), false);
    assert.equal(reachesThreshold(100, 80, true), false);
    assert.equal(reachesThreshold(100, 100, false), true);
  });
});

describe("isImprovement: best path wins", () => {
  const held = [{ trust: 64, hops: 3 }];

  it("accepts a new report, and strictly more trust", () => {
    assert.equal(isImprovement([], { trust: 0, hops: 6 }), true);
    assert.equal(isImprovement(held, { trust: 80, hops: 3 }), true);
    assert.equal(isImprovement(held, { trust: 80, hops: 5 }), true);
  });

  it("drops equal or lower trust over a path no shorter", () => {
    assert.equal(isImprovement(held, { trust: 64, hops: 3 }), false);
    assert.equal(isImprovement(held, { trust: 51, hops: 4 }), false);
    assert.equal(isImprovement(held, { trust: 64, hops: 4 }), false);
  });

  it("keeps a weaker copy with a shorter path: it can travel where max_hops stops the other", () => {
    assert.equal(isImprovement(held, { trust: 51, hops: 2 }), true);
    assert.equal(isImprovement([...held, { trust: 51, hops: 2 }], { trust: 40, hops: 2 }), false);
  });

  it("remembers only copies the new one does not beat in both respects", () => {
    assert.deepEqual(undominated(held, { trust: 51, hops: 2 }), [
      { trust: 64, hops: 3 },
      { trust: 51, hops: 2 },
    ]);
    assert.deepEqual(undominated(held, { trust: 80, hops: 3 }), [{ trust: 80, hops: 3 }]);
  });

  it("a held set never grows past one copy per path length (so relaying always ends)", () => {
    const mark = fc.record({
      trust: fc.integer({ min: 0, max: 100 }),
      hops: fc.integer({ min: 1, max: 16 }),
    });
    fc.assert(
      fc.property(fc.array(mark, { maxLength: 200 }), (offers) => {
        let set: { trust: number; hops: number }[] = [];
        for (const o of offers) if (isImprovement(set, o)) set = undominated(set, o);
        assert.equal(new Set(set.map((c) => c.hops)).size, set.length);
        assert.ok(set.length <= 16);
      }),
    );
  });
});

describe("forwardTargets", () => {
  const friends = [{ key: "a" }, { key: "b" }, { key: "c" }, { key: "d" }];

  it("never sends back to the sender nor to a node in the path", () => {
    const targets = forwardTargets(friends, new Set(["x", "c"]), 2, 64, 6, "a");
    assert.deepEqual(
      targets.map((f) => f.key),
      ["b", "d"],
    );
  });

  it("sends our own reports to every friend", () => {
    assert.equal(forwardTargets(friends, new Set(), 0, 100, 6, undefined).length, 4);
  });

  it("stops once the path has reached max hops", () => {
    assert.equal(forwardTargets(friends, new Set(), 5, 64, 6, "a").length, 3);
    assert.equal(forwardTargets(friends, new Set(), 6, 64, 6, "a").length, 0);
  });

  it("does not forward a report that carries no trust", () => {
    assert.equal(forwardTargets(friends, new Set(), 1, 0, 6, "a").length, 0);
  });
});
