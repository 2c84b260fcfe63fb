import assert from "node:assert/strict";
import { once } from "node:events";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import * as zmq from "zeromq";
import { loadNode, writeNetworkFiles } from "../../src/demo/local-network.js";
import { sealEnvelope } from "../../src/protocol/envelope.js";
import { signReport } from "../../src/protocol/report.js";

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
});
