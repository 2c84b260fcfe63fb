import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FriendConfig } from "../../src/config/types.js";
import { planFriends } from "../../src/node/reload.js";

function friend(n: number, over: Partial<FriendConfig> = {}): FriendConfig {
  return {
    file: `/etc/f2bp2p/friends.d/f${n}.yaml`,
    name: `f${n}`,
    endpoint: `tcp://127.0.0.${n}:7711`,
    signingKey: new Uint8Array(32).fill(n),
    curveKey: String(n).repeat(40).slice(0, 40),
    trust: 80,
    neverBanAppliesToAll: false,
    ...over,
  };
}

describe("planFriends (reload of friends.d)", () => {
  it("keeps a friend whose keys and endpoint are unchanged, with its new name and trust", () => {
    const running = [{ config: friend(1) }, { config: friend(2) }];
    const plan = planFriends(running, [friend(1, { trust: 30, name: "renamed" }), friend(2)]);
    assert.deepEqual(
      plan.kept.map((k) => [k.friend, k.config.name, k.config.trust]),
      [
        [running[0], "renamed", 30],
        [running[1], "f2", 80],
      ],
    );
    assert.deepEqual(plan.added, []);
    assert.deepEqual(plan.dropped, []);
  });

  it("adds new friends, drops removed ones, and replaces one whose endpoint or key changed", () => {
    const running = [{ config: friend(1) }, { config: friend(2) }, { config: friend(3) }];
    const moved = friend(2, { endpoint: "tcp://198.51.100.2:7711" });
    const rekeyed = friend(3, { curveKey: "x".repeat(40) });
    const plan = planFriends(running, [moved, rekeyed, friend(4)]);
    assert.deepEqual(plan.kept, []);
    assert.deepEqual(plan.added, [moved, rekeyed, friend(4)]);
    assert.deepEqual(plan.dropped, running);
  });
});
