import assert from "node:assert/strict";
import { once } from "node:events";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import * as zmq from "zeromq";
import { loadNode, writeNetworkFiles } from "../../src/demo/local-network.js";
import { REPORT_SIGNING_TAG } from "../../src/protocol/constants.js";
import { sealEnvelope } from "../../src/protocol/envelope.js";
import { encodeReport } from "../../src/protocol/report.js";
import { sha256, signTagged } from "../../src/protocol/signing.js";

/** A friend's reports of addresses no node should ban, through the receive pipeline of a real node. */
describe("friends' reports of special-purpose and non-canonical addresses", async () => {
  const files = await writeNetworkFiles({
    nodes: [{ name: "me" }, { name: "friend" }],
    links: [["me", "friend", 100, 100]],
  });
  after(() => fs.rmSync(files.dir, { recursive: true, force: true }));
  const context = new zmq.Context();
  const me = loadNode(files.configs.get("me")!, { context });
  const friendNode = loadNode(files.configs.get("friend")!, { context });
  const friend = friendNode.identity;
  await me.start();
  // The friend is never started, but its sockets exist: close them so the process can exit.
  after(() => Promise.all([me.stop(), friendNode.stop()]));
  const bans: string[] = [];
  me.on("ban", ({ ip }) => bans.push(ip));
  const rejected: string[] = [];
  me.on("report:rejected", ({ code }) => rejected.push(code));

  /** Signs any IP text, canonical or not, as the friend's own report. */
  function frames(ip: string): Buffer[] {
    const report = { ip, time: Date.now(), origin: friend.signingPublicKey, jail: "sshd" };
    const bytes = encodeReport(report);
    const signed = {
      report,
      bytes,
      signature: signTagged(REPORT_SIGNING_TAG, bytes, friend.signer),
      id: sha256(bytes),
    };
    return sealEnvelope(
      {
        from: friend.signingPublicKey,
        to: me.identity.signingPublicKey,
        entries: [{ id: signed.id, trust: 100, path: [friend.signingPublicKey] }],
      },
      [signed],
      friend.signer,
    );
  }

  it("special-purpose addresses reach the threshold but are never written to the bans log", async () => {
    const special = [
      "0.0.0.0",
      "::",
      "10.0.0.5",
      "100.64.1.1",
      "169.254.1.1",
      "fe80::1",
      "fd00::1",
      "ff02::1",
      "224.0.0.1",
      "255.255.255.255",
      "192.168.1.1",
    ];
    for (const ip of special) me.handleMessage(frames(ip));
    for (const ip of special) assert.equal(me.ledger.score(ip), 100, ip);
    const banned = once(me, "ban");
    me.handleMessage(frames("203.0.113.9"));
    await banned; // bans are written in order after their commit: the special ones came first
    assert.deepEqual(bans, ["203.0.113.9"]);
    assert.equal(fs.readFileSync(me.config.bansLog, "utf8").match(/ BAN /g)?.length, 1);
  });

  it("the dotted IPv4-compatible form is refused as invalid-ip; its hex form is banned", async () => {
    rejected.length = 0;
    me.handleMessage(frames("::203.0.113.8"));
    assert.deepEqual(rejected, ["invalid-ip"]);
    const banned = once(me, "ban");
    me.handleMessage(frames("::cb00:7108"));
    await banned;
    assert.ok(bans.includes("::cb00:7108"));
    assert.match(fs.readFileSync(me.config.bansLog, "utf8"), / BAN ::cb00:7108 score=100 /);
  });
});
