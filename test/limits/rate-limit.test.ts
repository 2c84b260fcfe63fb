import assert from "node:assert/strict";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import YAML from "yaml";
import * as zmq from "zeromq";
import { loadNode, writeNetworkFiles } from "../../src/demo/local-network.js";
import { claimOf, FriendRateLimit, TokenBucket } from "../../src/limits/rate-limit.js";
import { sealEnvelope } from "../../src/protocol/envelope.js";
import { signReport } from "../../src/protocol/report.js";

describe("token bucket", () => {
  it("starts full, refills at the rate up to the burst, and never refills on a clock that steps back", () => {
    const bucket = new TokenBucket({ reportsPerSecond: 10, burst: 5 }, 1000);
    assert.equal(bucket.available(1000), 5);
    bucket.take(5, 1000);
    assert.equal(bucket.available(1000), 0);
    assert.equal(bucket.available(1200), 2);
    assert.equal(bucket.available(900), 2);
    assert.equal(bucket.available(60_000), 5);
    bucket.take(64, 60_000); // one message is never split: the balance goes below zero
    assert.equal(bucket.available(60_000), -59);
    assert.equal(bucket.available(66_000), 1);
  });

  it("reads the claimed sender and count from the envelope header only", () => {
    const envelope = Buffer.alloc(68);
    envelope[2] = 7;
    envelope.fill(0xab, 4, 36);
    assert.deepEqual(claimOf([envelope]), { sender: "ab".repeat(32), cost: 7 });
    assert.deepEqual(claimOf([Buffer.alloc(3)]), { sender: undefined, cost: 1 });
    assert.deepEqual(claimOf([]), { sender: undefined, cost: 1 });
  });

  it("charges only a verified sender: a claim alone spends nothing", () => {
    const limit = new FriendRateLimit({ reportsPerSecond: 1, burst: 2 }, ["aa", "bb"], 0);
    const claimB = { sender: "bb", cost: 1 };
    for (let i = 0; i < 100; i++) assert.equal(limit.admits(claimB, 0), true); // spoofed claims of bb
    limit.charge("aa", 2, 0);
    assert.equal(limit.admits({ sender: "aa", cost: 1 }, 0), false);
    assert.equal(limit.admits(claimB, 0), true);
    assert.equal(limit.admits({ sender: "cc", cost: 1 }, 0), true); // not a friend: refused later, cheaply
  });

  it("after a reload: a friend that stays keeps its bucket, a new friend is limited from its first message", () => {
    const limit = new FriendRateLimit({ reportsPerSecond: 1, burst: 2 }, ["aa", "bb"], 0);
    limit.charge("aa", 2, 0);
    limit.setFriends(["aa", "cc"], 0);
    assert.equal(limit.admits({ sender: "aa", cost: 1 }, 0), false, "a reload does not refill aa");
    limit.charge("cc", 2, 0);
    assert.equal(limit.admits({ sender: "cc", cost: 1 }, 0), false, "cc, added by the reload, has a bucket");
    limit.charge("bb", 5, 0); // dropped: no bucket left to charge, its messages fail verification
    assert.equal(limit.admits({ sender: "bb", cost: 1 }, 0), true);
  });
});

/** A real node's receive pipeline on a fake clock: a flooding friend is cut off, another is not. */
describe("per-friend rate limit in the node", async () => {
  const files = await writeNetworkFiles({
    nodes: [{ name: "me" }, { name: "flood" }, { name: "quiet" }],
    links: [
      ["me", "flood"],
      ["me", "quiet"],
    ],
  });
  after(() => fs.rmSync(files.dir, { recursive: true, force: true }));
  const meFile = files.configs.get("me")!;
  const config = YAML.parse(fs.readFileSync(meFile, "utf8"));
  fs.writeFileSync(meFile, YAML.stringify({ ...config, friend_reports_per_second: 10, friend_burst: 100 }));
  const context = new zmq.Context();
  let clock = Date.now();
  const me = loadNode(meFile, { context, now: () => clock });
  const flood = loadNode(files.configs.get("flood")!, { context });
  const quiet = loadNode(files.configs.get("quiet")!, { context });
  await me.start();
  after(() => Promise.all([me.stop(), flood.stop(), quiet.stop()]));
  /** Accepted reports are committed at the end of the event-loop turn they arrived in. */
  const committed = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  function message(from: typeof flood, ips: string[]): Buffer[] {
    const signed = ips.map((ip) =>
      signReport(
        { ip, time: clock, origin: from.identity.signingPublicKey, jail: "sshd" },
        from.identity.signer,
      ),
    );
    return sealEnvelope(
      {
        from: from.identity.signingPublicKey,
        to: me.identity.signingPublicKey,
        entries: signed.map((s) => ({ id: s.id, trust: 100, path: [from.identity.signingPublicKey] })),
      },
      signed,
      from.identity.signer,
    );
  }

  it("drops a friend's messages beyond its burst unverified, counts them, and still takes another friend's", async () => {
    const ips = (n: number, base: number): string[] =>
      Array.from({ length: n }, (_, i) => `198.51.${base + Math.floor(i / 250)}.${(i % 250) + 1}`);
    // 100 reports in 2 messages of 50: the burst. Then 10 more messages: all over the rate.
    for (let m = 0; m < 12; m++) me.handleMessage(message(flood, ips(50, m * 2)));
    const floodFriend = me.friends.find((f) => f.config.name === "flood")!;
    await committed();
    assert.equal(floodFriend.rejected["rate-limited"], 10);
    assert.equal(me.stats.rejected["rate-limited"], 10);
    assert.equal(me.stats.accepted, 100);
    me.handleMessage(message(quiet, ["203.0.113.9"]));
    await committed();
    assert.equal(me.ledger.score("203.0.113.9"), 80);
    // One second later the flooding friend has 10 tokens again: one message of 10 goes through.
    clock += 1000;
    me.handleMessage(message(flood, ips(10, 100)));
    await committed();
    assert.equal(me.stats.accepted, 111);
    me.handleMessage(message(flood, ips(1, 110)));
    assert.equal(floodFriend.rejected["rate-limited"], 11);
  });
});
