import assert from "node:assert/strict";
import { once } from "node:events";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import * as zmq from "zeromq";
import { loadNode, writeNetworkFiles } from "../../src/demo/local-network.js";
import { sealEnvelope } from "../../src/protocol/envelope.js";
import { parseRange } from "../../src/protocol/ip.js";
import { sealNeverBanList } from "../../src/protocol/never-ban-list.js";
import { signReport } from "../../src/protocol/report.js";
import { sealSyncPage, sealSyncRequest } from "../../src/protocol/sync.js";

/** The whole receive pipeline of a real, started node (with its store) against hostile frames. */
describe("a node under hostile input", async () => {
  const files = await writeNetworkFiles({
    nodes: [{ name: "me" }, { name: "friend" }],
    links: [["me", "friend"]],
  });
  after(() => fs.rmSync(files.dir, { recursive: true, force: true }));
  const context = new zmq.Context();
  const me = loadNode(files.configs.get("me")!, { context });
  const friendNode = loadNode(files.configs.get("friend")!, { context });
  const friend = friendNode.identity;
  // The friend is never started, but its sockets exist: close them so the process can exit, also
  // when start() fails (a port taken meanwhile by another process): else the test file never ends.
  after(() => Promise.all([me.stop(), friendNode.stop()]));
  await me.start();

  function valid(ip: string, trust = 100): Buffer[] {
    const signed = signReport(
      { ip, time: Date.now(), origin: friend.signingPublicKey, jail: "sshd" },
      friend.signer,
    );
    return sealEnvelope(
      {
        from: friend.signingPublicKey,
        to: me.identity.signingPublicKey,
        entries: [{ id: signed.id, trust, path: [friend.signingPublicKey] }],
      },
      [signed],
      friend.signer,
    );
  }

  it("never throws on random frames, and counts each refusal", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 400 }), { maxLength: 10 }), (raw) => {
        const before = me.stats.messages;
        me.handleMessage(raw.map((r) => Buffer.from(r)));
        assert.equal(me.stats.messages, before + 1);
      }),
      { numRuns: 3000 },
    );
    assert.equal(me.stats.accepted, 0);
    const refused = Object.values(me.stats.rejected).reduce((n, c) => n + (c ?? 0), 0);
    assert.equal(refused, me.stats.messages);
  });

  it("never accepts a corrupted copy of a valid message, and still takes the valid one", async () => {
    const frames = valid("198.51.100.200");
    fc.assert(
      fc.property(
        fc.nat({ max: frames.length - 1 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (f, at, xor) => {
          const copy = frames.map((b) => Buffer.from(b));
          copy[f]![at % copy[f]!.length]! ^= xor;
          me.handleMessage(copy);
          assert.equal(me.ledger.score("198.51.100.200"), 0);
        },
      ),
      { numRuns: 1000 },
    );
    const banned = once(me, "ban");
    me.handleMessage(frames);
    assert.equal(me.ledger.score("198.51.100.200"), 80);
    const [ban] = await banned;
    assert.equal(ban.ip, "198.51.100.200");
    assert.equal(me.stats.bans, 1);
  });

  it("refuses sync pages it did not ask for before their signature, and more than 10 sync requests a second", () => {
    const before = { ...me.stats.rejected };
    const signed = signReport(
      { ip: "198.51.100.201", time: Date.now(), origin: friend.signingPublicKey, jail: "sshd" },
      friend.signer,
    );
    const page = {
      from: friend.signingPublicKey,
      to: me.identity.signingPublicKey,
      requestId: Buffer.from("0011223344556677", "hex"),
      logId: Buffer.alloc(16, 9),
      after: 0,
      upto: 1,
      last: true,
      more: false,
      entries: [{ id: signed.id, trust: 100, path: [friend.signingPublicKey] }],
    };
    const frames = sealSyncPage(page, [signed], friend.signer);
    // A forged signature changes nothing: the page is refused before it is looked at.
    frames[1]![0]! ^= 1;
    me.handleMessage(frames);
    assert.equal((me.stats.rejected.unsolicited ?? 0) - (before.unsolicited ?? 0), 1);
    assert.equal(me.friends[0]!.rejected.unsolicited, 1);
    assert.equal(me.ledger.score("198.51.100.201"), 0);

    const request = (i: number): Buffer[] =>
      sealSyncRequest(
        {
          from: friend.signingPublicKey,
          to: me.identity.signingPublicKey,
          limit: 16,
          logId: Buffer.alloc(16),
          after: 0,
          requestId: Buffer.from([0, 0, 0, 0, 0, 0, 0, i]),
        },
        friend.signer,
      );
    for (let i = 0; i < 15; i++) me.handleMessage(request(i));
    const limited = (me.stats.rejected["rate-limited"] ?? 0) - (before["rate-limited"] ?? 0);
    // A burst of 10, then 10 a second: at least 4 of 15 sent at once are refused.
    assert.ok(limited >= 4 && limited <= 5, `rate-limited ${limited} of 15`);
    assert.equal(me.friends[0]!.rejected["rate-limited"], limited);
  });

  it("takes at most 20 never-ban lists at once from a friend, and at most 5 changed ones", () => {
    const before = { ...me.stats.rejected };
    const friendBefore = me.friends[0]!.rejected["rate-limited"] ?? 0;
    const rateLimited = () => (me.stats.rejected["rate-limited"] ?? 0) - (before["rate-limited"] ?? 0);
    /** A list of one address, 198.51.100.N, signed by the friend with a time `i` ms after the first. */
    const list = (i: number, n: number): Buffer[] => {
      const parsed = parseRange(`198.51.100.${n}`);
      assert.ok(parsed.ok);
      return sealNeverBanList(
        {
          from: friend.signingPublicKey,
          to: me.identity.signingPublicKey,
          time: Date.now() - 60_000 + i,
          expiresAt: Date.now() + 3600_000,
          ranges: [parsed.range],
        },
        friend.signer,
      );
    };
    // Changed every time: the first five are taken, the rest refused before the bans are looked at.
    for (let i = 0; i < 8; i++) me.handleMessage(list(i, i));
    assert.equal(rateLimited(), 3);
    assert.deepEqual(me.neverBanListOf(me.friends[0]!.key)?.ranges, ["198.51.100.4"]);
    // An older list than the one held is stale: not taken.
    me.handleMessage(list(-1000, 9));
    assert.equal((me.stats.rejected.superseded ?? 0) - (before.superseded ?? 0), 1);
    assert.deepEqual(me.neverBanListOf(me.friends[0]!.key)?.ranges, ["198.51.100.4"]);
    // The same list again and again: 20 at once in all (9 already), then refused before the signature.
    for (let i = 8; i < 40; i++) me.handleMessage(list(i, 4));
    const limited = rateLimited() - 3;
    assert.ok(limited >= 20 && limited <= 21, `rate-limited ${limited} of 32`);
    assert.equal(
      (me.friends[0]!.rejected["rate-limited"] ?? 0) - friendBefore,
      3,
      "only the changed lists count against it",
    );
  });
});
