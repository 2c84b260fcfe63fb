/**
 * Prometheus metrics of real `f2bp2p run` nodes: two nodes on loopback, three reports relayed from
 * A to B, both scraped over HTTP and the exposition parsed by a strict parser.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { describe, it } from "node:test";
import { freePorts, writeNetworkFiles } from "../../src/demo/local-network.js";
import { f2bp2p } from "../helpers/cli.js";
import { type Scrape, scrape } from "../helpers/prometheus.js";
import { waitFor } from "../helpers/wait.js";
import { reportWithCli, runNode, Scene } from "./hosts.js";

const ATTACKERS = ["203.0.113.21", "203.0.113.22", "198.51.100.23"];

describe("metrics_listen: Prometheus metrics of a running node", () => {
  it("counts a relay of three reports on both nodes, by friend name", async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const files = await writeNetworkFiles(
        { nodes: [{ name: "a" }, { name: "b" }], links: [["a", "b", 80, 80]] },
        scene.root,
      );
      const [portA, portB] = await freePorts(2);
      const metricsPort = new Map([
        ["a", portA!],
        ["b", portB!],
      ]);
      for (const [name, config] of files.configs)
        fs.appendFileSync(config, `metrics_listen: 127.0.0.1:${metricsPort.get(name)}\n`);
      for (const [name, config] of files.configs)
        scene.nodes.set(name, await runNode(name, config, scene.teardown));
      const a = scene.node("a");
      const b = scene.node("b");
      await waitFor(
        async () => (await a.status()).friends[0]!.connected && (await b.status()).friends[0]!.connected,
        15_000,
        "the friend link connected both ways",
      );
      const urlA = `http://127.0.0.1:${portA}/metrics`;
      const urlB = `http://127.0.0.1:${portB}/metrics`;

      // Before any report: every counter is there at 0, the link is up.
      const before = await scrape(urlB);
      assert.equal(before.value("f2bp2p_reports_accepted_total"), 0);
      assert.equal(before.value("f2bp2p_bans_written_total"), 0);
      assert.equal(before.value("f2bp2p_unbans_written_total"), 0);
      assert.equal(before.value("f2bp2p_live_reports"), 0);
      assert.equal(before.value("f2bp2p_friend_connected", { friend: "a" }), 1);

      const startedAt = Math.floor(Date.now() / 1000);
      for (const ip of ATTACKERS) await reportWithCli(a, ip, "sshd");
      await waitFor(async () => (await b.status()).stats.bans === 3, 15_000, "B to ban all three");
      const statusB = (await b.status()) as unknown as { stats: { messages: number } };

      const mb = await scrape(urlB);
      assert.equal(mb.value("f2bp2p_reports_accepted_total"), 3);
      assert.equal(mb.value("f2bp2p_bans_written_total"), 3);
      assert.equal(mb.value("f2bp2p_ips_banned"), 3);
      assert.equal(mb.value("f2bp2p_live_reports"), 3);
      assert.equal(mb.value("f2bp2p_friend_reports_in_total", { friend: "a" }), 3);
      // What a is worth to b: three reports brought, three bans, none confirmed by b's own jails.
      assert.equal(mb.value("f2bp2p_friend_brought_reports", { friend: "a" }), 3);
      assert.equal(mb.value("f2bp2p_friend_bans", { friend: "a" }), 3);
      assert.equal(mb.value("f2bp2p_friend_confirmed_reports", { friend: "a" }), 0);
      const messagesIn = mb.value("f2bp2p_friend_messages_in_total", { friend: "a" });
      // Envelopes and catch-up sync messages alike.
      assert.equal(messagesIn, statusB.stats.messages, "every message B received was from A and passed");
      assert.ok(messagesIn! >= 1, `messages in: ${messagesIn}`);
      const lastSeen = mb.value("f2bp2p_friend_last_seen_seconds", { friend: "a" })!;
      assert.ok(lastSeen >= startedAt && lastSeen <= Date.now() / 1000, `last seen ${lastSeen}`);
      const ingest = mb.family("f2bp2p_ingest_seconds");
      assert.equal(ingest.type, "HISTOGRAM");
      // The ingest histogram times envelopes (live reports); sync messages are counted apart.
      const envelopes = Number(ingest.metrics[0]!.count);
      assert.ok(envelopes >= 1 && envelopes <= 3, `envelopes: ${envelopes}`);
      assert.equal(Number(ingest.metrics[0]!.buckets!["+Inf"]), envelopes);
      assert.ok(Number(ingest.metrics[0]!.sum) > 0);
      assert.equal(mb.family("f2bp2p_reports_rejected_total").metrics.length, 0, "nothing rejected");
      const storeFile = path.join(b.home, "state", "state.db");
      const storeBytes = mb.value("f2bp2p_store_size_bytes")!;
      assert.ok(storeBytes >= fs.statSync(storeFile).size, `store size ${storeBytes}`);

      const ma = await scrape(urlA);
      assert.equal(ma.value("f2bp2p_reports_accepted_total"), 3, "A's own three reports");
      assert.equal(ma.value("f2bp2p_bans_written_total"), 3);
      await waitFor(
        async () => (await scrape(urlA)).value("f2bp2p_friend_reports_out_total", { friend: "b" }) === 3,
        10_000,
        "A to count three reports sent to b",
      );
      const sent = await scrape(urlA);
      assert.equal(sent.value("f2bp2p_friend_messages_out_total", { friend: "b" }), envelopes);
      assert.equal(sent.value("f2bp2p_friend_queue_reports", { friend: "b" }), 0);
      assert.equal(sent.value("f2bp2p_friend_connected", { friend: "b" }), 1);

      assertNamesAndLabels(mb);
      assertNamesAndLabels(ma);

      // A takes one report back: both count the revocation, and each lifts its ban with one UNBAN.
      const revoked = await f2bp2p(["-c", a.config, "revoke", ATTACKERS[0]!]);
      assert.equal(revoked.code, 0, revoked.stderr);
      await waitFor(
        async () => (await scrape(urlB)).value("f2bp2p_unbans_written_total") === 1,
        15_000,
        "B to lift its ban",
      );
      for (const url of [urlA, urlB]) {
        const m = await scrape(url);
        assert.equal(m.value("f2bp2p_revocations_accepted_total"), 1, url);
        assert.equal(m.value("f2bp2p_unbans_written_total"), 1, url);
      }

      // Only /metrics is served.
      assert.equal((await fetch(`http://127.0.0.1:${portB}/`)).status, 404);
      assert.equal((await fetch(urlB, { method: "POST" })).status, 405);
    });
  });

  it("counts the reports it takes in from the spool at start", async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const files = await writeNetworkFiles({ nodes: [{ name: "solo" }], links: [] }, scene.root);
      const config = files.configs.get("solo")!;
      const [port] = await freePorts(1);
      fs.appendFileSync(config, `metrics_listen: 127.0.0.1:${port}\n`);
      const queued = await f2bp2p(["-c", config, "report", "203.0.113.24", "--jail", "sshd"]);
      assert.match(queued.stdout, /queued in/);
      const solo = await runNode("solo", config, scene.teardown);
      // The spool is taken in before the control socket answers.
      assert.equal((await solo.status()).stats.localReports, 1);
      const s = await scrape(`http://127.0.0.1:${port}/metrics`);
      assert.equal(s.value("f2bp2p_reports_accepted_total"), 1);
      assert.equal(s.value("f2bp2p_bans_written_total"), 1);
      assert.equal(s.value("f2bp2p_live_reports"), 1);
    });
  });

  it("a node whose metrics address is taken does not start, and says why", async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const files = await writeNetworkFiles({ nodes: [{ name: "solo" }], links: [] }, scene.root);
      const config = files.configs.get("solo")!;
      // The node's own relay port is bound by the node itself first: the metrics cannot have it.
      fs.appendFileSync(config, `metrics_listen: 127.0.0.1:${files.ports.get("solo")}\n`);
      const run = await f2bp2p(["-c", config, "run"]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(
          `cannot serve metrics on 127\\.0\\.0\\.1:${files.ports.get("solo")} \\(metrics_listen\\): EADDRINUSE`,
        ),
      );
    });
  });

  it("check says when the metrics address is not this host's, or is in use", async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const files = await writeNetworkFiles({ nodes: [{ name: "solo" }], links: [] }, scene.root);
      const config = files.configs.get("solo")!;
      const text = fs.readFileSync(config, "utf8");
      // A documentation address no interface of this host has: binding it fails, nothing is sent.
      fs.writeFileSync(config, `${text}metrics_listen: 198.51.100.99:7712\nmetrics_allow_remote: true\n`);
      const foreign = await f2bp2p(["-c", config, "check"]);
      assert.equal(foreign.code, 2);
      assert.match(
        foreign.stderr,
        /: metrics_listen: expected an address of this host that the node may bind, got 198\.51\.100\.99:7712: not an address of this host/,
      );
      const taken = files.ports.get("solo")!;
      const blocker = net.createServer();
      await new Promise<void>((resolve) => blocker.listen(taken, "127.0.0.1", resolve));
      t.after(() => blocker.close());
      fs.writeFileSync(config, `${text}metrics_listen: 127.0.0.1:${taken}\n`);
      const inUse = await f2bp2p(["-c", config, "check"]);
      assert.match(inUse.stdout, new RegExp(`note: metrics_listen: 127\\.0\\.0\\.1:${taken} is in use now`));
    });
  });
});

/** Every name has the prefix; counters end in _total; no label value is an address. */
function assertNamesAndLabels(s: Scrape): void {
  for (const family of s.families.values()) {
    assert.match(family.name, /^f2bp2p_[a-z_]+$/);
    if (family.type === "COUNTER") assert.match(family.name, /_total$/, family.name);
    else assert.doesNotMatch(family.name, /_total$/, family.name);
    for (const sample of family.metrics)
      for (const value of Object.values(sample.labels ?? {}))
        assert.doesNotMatch(value, /^[0-9.]+$|:/, `label value ${value} of ${family.name}`);
  }
}
