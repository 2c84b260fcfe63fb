/**
 * Field cases of issue-derived configurations, end to end with a real fail2ban-server on each host
 * and real `f2bp2p run` nodes: a jail named after a virtual host (longer than a wire label) whose
 * bans go out by the shipped action, an IPv4-compatible IPv6 address that B's shipped filter must
 * read, and log-watch across a logrotate whose postrotate does not make fail2ban reopen its log.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { parseIp } from "../../src/protocol/ip.js";
import { repoFail2banFile, requireFail2ban, startFail2ban } from "../helpers/fail2ban.js";
import { waitFor } from "../helpers/wait.js";
import {
  assertNoFail2banErrors,
  BIN,
  DUMMY_ACTION,
  hasBanLine,
  runNetwork,
  Scene,
  startF2bp2pJailHost,
} from "./hosts.js";

const VHOST_JAIL = "shop1.customer-example-site.com-cc";

describe("e2e: field cases", () => {
  it("a 34-character jail and an IPv4-compatible address: shared by the action, banned by B's fail2ban", {
    timeout: 90_000,
  }, async (t) => {
    if (!(await requireFail2ban(t))) return;
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, {
        nodes: [
          { name: "a", logLevel: "info" },
          { name: "b", logLevel: "info" },
        ],
        links: [["a", "b", 80, 80]],
      });
      const nodeA = scene.node("a");
      const nodeB = scene.node("b");
      const wrapper = path.join(nodeA.home, "f2bp2p");
      fs.writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`, { mode: 0o755 });
      fs.writeFileSync(path.join(nodeA.home, "in.log"), "");
      const hostA = await startFail2ban({
        dir: path.join(nodeA.home, "f2b"),
        jails: {
          [VHOST_JAIL]: {
            enabled: true,
            filter: "t",
            logpath: path.join(nodeA.home, "in.log"),
            backend: "polling",
            action: `dummy[target="${path.join(nodeA.home, "dummy.bans")}"]\nf2bp2p[f2bp2p_bin="${wrapper}", f2bp2p_config="${nodeA.config}"]`,
          },
        },
        filters: { t: "[Definition]\nfailregex = ^FAIL <ADDR>$\n" },
        actions: { dummy: DUMMY_ACTION, f2bp2p: repoFail2banFile("action.d/f2bp2p.conf") },
      });
      scene.teardown.add(() => hostA.stop());
      scene.fail2bans.set("a", hostA);
      const hostB = await startF2bp2pJailHost(scene, nodeB);

      await hostA.client("set", VHOST_JAIL, "banip", "203.0.113.60");
      await hostA.client("set", VHOST_JAIL, "banip", "::203.0.113.8");
      // What node B writes, and what B's fail2ban bans: the same addresses, in hex for the second.
      await waitFor(() => hasBanLine(nodeB, "203.0.113.60"), 20_000, "B's bans log line for 203.0.113.60");
      await waitFor(() => hasBanLine(nodeB, "::cb00:7108"), 20_000, "B's bans log line for ::cb00:7108");
      await waitFor(
        async () => (await hostB.fail2ban.banned("f2bp2p")).length === 2,
        20_000,
        "B's f2bp2p jail bans both",
      );
      const banned = (await hostB.fail2ban.banned("f2bp2p")).map((ip) => parseIp(ip)?.text);
      assert.deepEqual(banned.sort(), ["203.0.113.60", "::cb00:7108"]);
      assert.doesNotMatch(nodeB.bans(), /::203\.0\.113\.8/);
      assertNoFail2banErrors(hostA);
      assertNoFail2banErrors(hostB.fail2ban);
    });
  });

  it("log-watch across logrotate without reopen: a ban fail2ban writes to fail2ban.log.1 is shared", {
    timeout: 90_000,
  }, async (t) => {
    if (!(await requireFail2ban(t))) return;
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const logA = `${scene.root}/a/f2b/fail2ban.log`;
      await runNetwork(scene, {
        nodes: [
          { name: "a", logLevel: "info", watch: { fail2banLog: logA, jails: [] } },
          { name: "b", logLevel: "info" },
        ],
        links: [["a", "b", 80, 80]],
      });
      const nodeA = scene.node("a");
      const nodeB = scene.node("b");
      fs.writeFileSync(path.join(nodeA.home, "in.log"), "");
      const hostA = await startFail2ban({
        dir: path.join(nodeA.home, "f2b"),
        jails: {
          [VHOST_JAIL]: {
            enabled: true,
            filter: "t",
            logpath: path.join(nodeA.home, "in.log"),
            backend: "polling",
            action: "noop",
          },
        },
        filters: { t: "[Definition]\nfailregex = ^FAIL <ADDR>$\n" },
        actions: { noop: "[Definition]\nactionban = true\nactionunban = true\n" },
      });
      scene.teardown.add(() => hostA.stop());
      scene.fail2bans.set("a", hostA);
      assert.equal(hostA.logFile, logA);

      await hostA.client("set", VHOST_JAIL, "banip", "203.0.113.66");
      await waitFor(() => hasBanLine(nodeB, "203.0.113.66"), 20_000, "first ban at B");
      // logrotate: rename, create, and a postrotate that does nothing: fail2ban keeps its file open.
      fs.renameSync(logA, `${logA}.1`);
      fs.writeFileSync(logA, "");
      await hostA.client("set", VHOST_JAIL, "banip", "203.0.113.67");
      await waitFor(() => hasBanLine(nodeB, "203.0.113.67"), 20_000, "ban written to the rotated file");
      assert.match(fs.readFileSync(`${logA}.1`, "utf8"), /Ban 203\.0\.113\.67/);
      assert.equal(fs.readFileSync(logA, "utf8"), "");
      const watch = ((await nodeA.status()) as unknown as { watch: { format: string; bansReported: number } })
        .watch;
      assert.equal(watch.format, "fail2ban");
      assert.equal(watch.bansReported, 2);
      assertNoFail2banErrors(hostA);
    });
  });
});
