/**
 * The metrics of a started node (real store, real sockets) fed with hostile and valid messages:
 * each refusal counted under its reject code, and under the friend's name when the sender is known.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import * as zmq from "zeromq";
import { freePorts, loadNode, writeNetworkFiles } from "../../src/demo/local-network.js";
import { attachMetrics } from "../../src/metrics/attach.js";
import { sealEnvelope } from "../../src/protocol/envelope.js";
import { signReport } from "../../src/protocol/report.js";
import { silentLogger } from "../../src/util/logger.js";
import { scrape } from "../helpers/prometheus.js";

describe("metrics of a node under hostile input", async () => {
  const files = await writeNetworkFiles({
    nodes: [{ name: "me" }, { name: "friend" }],
    links: [["me", "friend"]],
  });
  after(() => fs.rmSync(files.dir, { recursive: true, force: true }));
  const [port] = await freePorts(1);
  fs.appendFileSync(files.configs.get("me")!, `metrics_listen: "[::1]:${port}"\n`);
  const context = new zmq.Context();
  const me = loadNode(files.configs.get("me")!, { context });
  const friendNode = loadNode(files.configs.get("friend")!, { context });
  const friend = friendNode.identity;
  await me.start();
  const attached = await attachMetrics(me, silentLogger());
  after(async () => {
    await attached?.stop();
    await Promise.all([me.stop(), friendNode.stop()]);
  });

  function message(ip: string, time: number): Buffer[] {
    const signed = signReport({ ip, time, origin: friend.signingPublicKey, jail: "sshd" }, friend.signer);
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

  it("counts refusals by reason, by friend when known, and what was accepted", async () => {
    assert.ok(attached);
    assert.equal(attached.url, `http://[::1]:${port}/metrics`);
    const lifetimeMs = me.config.reportLifetimeSeconds * 1000;
    me.handleMessage([Buffer.from("not an envelope")]);
    me.handleMessage(message("203.0.113.41", Date.now() - lifetimeMs - 60_000));
    const accepted = once(me, "report:accepted");
    me.handleMessage(message("203.0.113.42", Date.now()));
    await accepted;

    const s = await scrape(attached.url);
    assert.equal(s.value("f2bp2p_reports_accepted_total"), 1);
    assert.equal(s.value("f2bp2p_reports_rejected_total", { reason: "expired" }), 1);
    assert.equal(s.value("f2bp2p_reports_rejected_total", { reason: "bad-frame-count" }), 1);
    assert.equal(s.family("f2bp2p_reports_rejected_total").metrics.length, 2);
    // The garbage has no known sender: it is in no friend's count.
    assert.deepEqual(
      s.family("f2bp2p_friend_rejections_total").metrics.map((m) => [m.labels, Number(m.value)]),
      [[{ friend: "friend", reason: "expired" }, 1]],
    );
    assert.equal(s.value("f2bp2p_friend_messages_in_total", { friend: "friend" }), 2);
    assert.equal(s.value("f2bp2p_friend_reports_in_total", { friend: "friend" }), 2);
    assert.equal(Number(s.family("f2bp2p_ingest_seconds").metrics[0]!.count), 2);
    assert.equal(s.value("f2bp2p_unbans_written_total"), 0);
    assert.equal(s.value("f2bp2p_revocations_accepted_total"), 0);
    assert.equal(s.value("f2bp2p_catch_up_reports_total"), 0);
    // The friend was never started: its link is down, and says so.
    assert.equal(s.value("f2bp2p_friend_connected", { friend: "friend" }), 0);
  });
});
