/**
 * End to end with real fail2ban-servers and real `f2bp2p run` processes on loopback:
 * - a ban B took from A's report is lifted from B's fail2ban f2bp2p jail after B's ignore list
 *   changes and B is reloaded (SIGHUP), or after A revokes its report (`f2bp2p revoke`): B
 *   (running as an unprivileged user) writes UNBAN, and `f2bp2p unban-apply`, run as root as the
 *   packaged f2bp2p-unban service runs it, has fail2ban unban it;
 * - no echo: B's stock recidive jail bans that address again after the f2bp2p jail did, and B does
 *   not report it as its own, on the log-watch path and with the f2bp2p action in [DEFAULT]; a
 *   fresh address banned by B's local sshd jail is still reported (the control).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it, type TestContext } from "node:test";
import { promisify } from "node:util";
import YAML from "yaml";
import { askNode } from "../../src/cli/control-client.js";
import { writeNetworkFiles } from "../../src/demo/local-network.js";
import { repoFail2banFile, requireFail2ban, startFail2ban } from "../helpers/fail2ban.js";
import { waitFor } from "../helpers/wait.js";
import {
  BIN,
  DUMMY_ACTION,
  FAKE_SSHD_FILTER,
  failedLogin,
  type RunningNode,
  reportWithCli,
  runNode,
  Scene,
  startF2bp2pJailHost,
  statusBannedList,
} from "./hosts.js";

const exec = promisify(execFile);
const NOBODY = 65534;

function chownTree(dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(full, uid, gid);
    else fs.chownSync(full, uid, gid);
  }
}

/** The real uid of a running process, from /proc. */
function uidOf(pid: number): number {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("Uid:"))!;
  return Number(line.split(/\s+/)[1]);
}

/** Who node `node` knows as reporting `ip`: the short ids of the origins of its score. */
async function originsAt(node: RunningNode, ip: string): Promise<string[]> {
  const answer = await askNode(node.controlSocket, { op: "score", ip });
  assert.ok(answer.ok && answer.status === "score", JSON.stringify(answer));
  return answer.origins.map((o) => o.origin).sort();
}

async function statsOf(
  node: RunningNode,
): Promise<{ echoesStopped: number; localReports: number; unbans: number }> {
  return (await node.status()).stats as unknown as {
    echoesStopped: number;
    localReports: number;
    unbans: number;
  };
}

async function connected(nodes: RunningNode[]): Promise<void> {
  await waitFor(
    async () =>
      (await Promise.all(nodes.map((n) => n.status()))).every((s) => s.friends.every((f) => f.connected)),
    15_000,
    "every friend link connected",
  );
}

describe("lifting a ban in the real fail2ban", () => {
  it("ignore + SIGHUP on B (as an unprivileged user): UNBAN once, unban-apply lifts it from B's f2bp2p jail", async (t) => {
    if (!(await requireFail2ban(t))) return;
    if (process.getuid?.() !== 0) {
      if (process.env.CI) assert.fail("needs root to run the node as another user");
      t.skip("needs root to run the node as another user (CI runs as root)");
      return;
    }
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const files = await writeNetworkFiles(
        { nodes: [{ name: "a" }, { name: "b", logLevel: "info" }], links: [["a", "b", 80, 80]] },
        scene.root,
      );
      const configB = files.configs.get("b")!;
      fs.chmodSync(scene.root, 0o755);
      chownTree(path.dirname(configB), NOBODY, NOBODY);
      const a = await runNode("a", files.configs.get("a")!, scene.teardown);
      const b = await runNode("b", configB, scene.teardown, { uid: NOBODY, gid: NOBODY });
      scene.nodes.set("a", a);
      scene.nodes.set("b", b);
      assert.equal(uidOf(b.child.pid!), NOBODY, "node B runs as nobody");
      await connected([a, b]);
      const hostB = await startF2bp2pJailHost(scene, b);
      const attacker = "203.0.113.50";
      const kept = "203.0.113.53";

      await reportWithCli(a, attacker, "sshd");
      await reportWithCli(a, kept, "sshd");
      const bannedB = async () => statusBannedList(await hostB.fail2ban.status("f2bp2p"));
      await waitFor(async () => (await bannedB()).length === 2, 20_000, "B's f2bp2p jail bans both");

      // The admin adds the address to B's ignore list and reloads.
      const config = YAML.parse(fs.readFileSync(configB, "utf8")) as Record<string, unknown>;
      fs.writeFileSync(configB, YAML.stringify({ ...config, ignore: ["203.0.113.48/30"] }));
      b.child.kill("SIGHUP");
      await waitFor(
        () => b.bans().includes(` UNBAN ${attacker} reason=ignore-list\n`),
        15_000,
        "B's UNBAN line",
      );
      assert.equal(b.bans().split(` UNBAN ${attacker} `).length - 1, 1, "one UNBAN line");
      assert.ok(!b.bans().includes(` UNBAN ${kept} `));
      assert.equal((await statsOf(b)).unbans, 1);

      // What the packaged f2bp2p-unban.service runs, as root.
      const args = [
        BIN,
        "unban-apply",
        "--bans-log",
        b.bansLog,
        "--position",
        path.join(scene.root, "unban-position.json"),
        "--fail2ban-socket",
        hostB.fail2ban.socket,
      ];
      const { stdout } = await exec(process.execPath, args, { timeout: 30_000 });
      assert.equal(stdout, `${attacker}: unbanned in jail f2bp2p (reason=ignore-list)\n`);
      assert.deepEqual(await bannedB(), [kept], "fail2ban-client status f2bp2p no longer lists it");
      // The jail's ban action ran its unban for it: the firewall (here the dummy action) follows.
      assert.match(
        fs.readFileSync(hostB.dummyTarget, "utf8"),
        new RegExp(`^-${attacker.replaceAll(".", "\\.")}$`, "m"),
      );
      const again = await exec(process.execPath, args, { timeout: 30_000 });
      assert.equal(again.stdout, "", "a second run applies nothing twice");

      // B restarts: the lift holds, nothing is written again, the address is not banned again.
      await b.stop();
      const b2 = await runNode("b", configB, scene.teardown, { uid: NOBODY, gid: NOBODY });
      scene.nodes.set("b", b2);
      assert.equal(b2.bans().split(` BAN ${attacker} `).length - 1, 1);
      assert.equal(b2.bans().split(` UNBAN ${attacker} `).length - 1, 1);
      assert.deepEqual(await bannedB(), [kept]);
    });
  });

  it("A revokes its report: B (as an unprivileged user) writes UNBAN, unban-apply lifts it from B's f2bp2p jail", async (t) => {
    if (!(await requireFail2ban(t))) return;
    if (process.getuid?.() !== 0) {
      if (process.env.CI) assert.fail("needs root to run the node as another user");
      t.skip("needs root to run the node as another user (CI runs as root)");
      return;
    }
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const files = await writeNetworkFiles(
        { nodes: [{ name: "a" }, { name: "b", logLevel: "info" }], links: [["a", "b", 80, 80]] },
        scene.root,
      );
      const configB = files.configs.get("b")!;
      fs.chmodSync(scene.root, 0o755);
      chownTree(path.dirname(configB), NOBODY, NOBODY);
      const a = await runNode("a", files.configs.get("a")!, scene.teardown);
      const b = await runNode("b", configB, scene.teardown, { uid: NOBODY, gid: NOBODY });
      scene.nodes.set("a", a);
      scene.nodes.set("b", b);
      assert.equal(uidOf(b.child.pid!), NOBODY, "node B runs as nobody");
      await connected([a, b]);
      const hostB = await startF2bp2pJailHost(scene, b);
      const mistake = "203.0.113.54";
      const kept = "203.0.113.57";

      await reportWithCli(a, mistake, "sshd");
      await reportWithCli(a, kept, "sshd");
      const bannedB = async () => statusBannedList(await hostB.fail2ban.status("f2bp2p"));
      await waitFor(async () => (await bannedB()).length === 2, 20_000, "B's f2bp2p jail bans both");

      // A's admin takes the report back.
      const revoked = await exec(
        process.execPath,
        [BIN, "-c", a.config, "revoke", mistake, "--reason", "our office"],
        { timeout: 30_000 },
      );
      assert.match(
        revoked.stdout,
        new RegExp(`^${mistake.replaceAll(".", "\\.")}: revoked \\(reason: our office\\)`),
      );
      await waitFor(() => b.bans().includes(` UNBAN ${mistake} reason=revoked\n`), 15_000, "B's UNBAN line");
      assert.equal(b.bans().split(` UNBAN ${mistake} `).length - 1, 1, "one UNBAN line");
      assert.ok(!b.bans().includes(` UNBAN ${kept} `));
      assert.deepEqual(await originsAt(b, mistake), [], "A's report no longer counts at B");

      // What the packaged f2bp2p-unban.service runs, as root, when the bans log changes.
      const { stdout } = await exec(
        process.execPath,
        [
          BIN,
          "unban-apply",
          "--bans-log",
          b.bansLog,
          "--position",
          path.join(scene.root, "unban-position.json"),
          "--fail2ban-socket",
          hostB.fail2ban.socket,
        ],
        { timeout: 30_000 },
      );
      assert.equal(stdout, `${mistake}: unbanned in jail f2bp2p (reason=revoked)\n`);
      assert.deepEqual(await bannedB(), [kept], "fail2ban-client status f2bp2p no longer lists it");
      assert.equal(b.bans().split(` BAN ${mistake} `).length - 1, 1, "never banned again");
    });
  });
});

/**
 * B's fail2ban: the shipped f2bp2p jail on B's bans log, the stock recidive filter on fail2ban's
 * own log (maxretry 1: one ban elsewhere is enough to ban again), and a local sshd jail on a fake
 * auth log. Every jail bans with the dummy action; `withAction` adds the f2bp2p action to
 * [DEFAULT] action, so every jail (f2bp2p's included, which the action's guard skips) runs it.
 */
async function startEchoHost(
  scene: Scene,
  b: RunningNode,
  withAction: boolean,
): Promise<{ fail2ban: Awaited<ReturnType<typeof startFail2ban>>; authLog: string }> {
  const dir = b.home;
  const authLog = path.join(dir, "auth-sshd.log");
  fs.writeFileSync(authLog, "");
  const f2bDir = path.join(dir, "f2b");
  const wrapper = path.join(dir, "f2bp2p");
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`, { mode: 0o755 });
  const actions = [`dummy[target="${path.join(dir, "dummy-%(__name__)s.bans")}"]`];
  if (withAction) actions.push(`f2bp2p[f2bp2p_bin="${wrapper}", f2bp2p_config="${b.config}"]`);
  const fail2ban = await startFail2ban({
    dir: f2bDir,
    jails: {
      DEFAULT: { action: actions.join("\n") },
      recidive: {
        enabled: true,
        filter: "recidive",
        logpath: path.join(f2bDir, "fail2ban.log"),
        backend: "auto",
        maxretry: 1,
        findtime: 86400,
        bantime: 3600,
      },
      sshd: {
        enabled: true,
        filter: "fake-sshd",
        logpath: authLog,
        logtimezone: "UTC",
        backend: "auto",
        maxretry: 3,
        findtime: 600,
        bantime: 3600,
      },
    },
    filters: {
      "fake-sshd": FAKE_SSHD_FILTER,
      f2bp2p: repoFail2banFile("filter.d/f2bp2p.conf"),
      recidive: fs.readFileSync("/etc/fail2ban/filter.d/recidive.conf", "utf8"),
      common: fs.readFileSync("/etc/fail2ban/filter.d/common.conf", "utf8"),
    },
    actions: { dummy: DUMMY_ACTION, f2bp2p: repoFail2banFile("action.d/f2bp2p.conf") },
    files: {
      "jail.d/f2bp2p.conf": repoFail2banFile("jail.d/f2bp2p.conf"),
      "jail.d/f2bp2p.local": `[f2bp2p]\nlogpath = ${b.bansLog}\n`,
    },
  });
  scene.teardown.add(() => fail2ban.stop());
  scene.fail2bans.set(b.name, fail2ban);
  return { fail2ban, authLog };
}

async function noEcho(t: TestContext, path_: "log-watch" | "action"): Promise<void> {
  if (!(await requireFail2ban(t))) return;
  const scene = new Scene(t);
  await scene.run(t, async () => {
    const fail2banLogB = path.join(scene.root, "b", "f2b", "fail2ban.log");
    const files = await writeNetworkFiles(
      {
        nodes: [
          { name: "a" },
          {
            name: "b",
            logLevel: "debug",
            // Every jail: recidive's bans are read like any other.
            ...(path_ === "log-watch" ? { watch: { fail2banLog: fail2banLogB, jails: [] } } : {}),
          },
        ],
        links: [["a", "b", 80, 80]],
      },
      scene.root,
    );
    // recidive's log, and log-watch's: fail2ban does not start a jail whose log is missing.
    fs.mkdirSync(path.dirname(fail2banLogB), { recursive: true });
    fs.writeFileSync(fail2banLogB, "");
    const a = await runNode("a", files.configs.get("a")!, scene.teardown);
    const b = await runNode("b", files.configs.get("b")!, scene.teardown);
    scene.nodes.set("a", a);
    scene.nodes.set("b", b);
    await connected([a, b]);
    const hostB = await startEchoHost(scene, b, path_ === "action");
    const idA = (await a.status()).id;
    const idB = (await b.status()).id;

    // A reports; B bans it in its f2bp2p jail, then recidive bans it again.
    const attacker = "203.0.113.60";
    await reportWithCli(a, attacker, "sshd");
    await waitFor(
      async () => (await hostB.fail2ban.banned("recidive")).includes(attacker),
      30_000,
      "B's recidive jail to ban the address the f2bp2p jail banned",
    );
    assert.ok((await hostB.fail2ban.banned("f2bp2p")).includes(attacker));
    await waitFor(async () => (await statsOf(b)).echoesStopped === 1, 20_000, "B to stop the echo");

    // The control: a fresh address banned by B's own sshd jail is reported as B's.
    const local = "198.51.100.61";
    fs.appendFileSync(hostB.authLog, failedLogin(local) + failedLogin(local) + failedLogin(local));
    await waitFor(
      async () => (await originsAt(a, local)).includes(idB),
      30_000,
      "A to receive B's own report",
    );
    // The local ban reached recidive too: that is B's own report again (duplicate), not an echo.
    await waitFor(
      async () => (await hostB.fail2ban.banned("recidive")).includes(local),
      30_000,
      "recidive to ban the local ban too",
    );

    assert.deepEqual(await originsAt(a, attacker), [idA], "A never got its ban back as B's");
    assert.deepEqual(await originsAt(b, attacker), [idA]);
    const stats = await statsOf(b);
    assert.equal(stats.echoesStopped, 1);
    assert.ok(stats.localReports >= 1);
    assert.match(b.stderr(), /echo stopped/);
  });
}

describe("no echo through a second jail", () => {
  it("log-watch on every jail: recidive's ban of a friend's address is not reported; a local ban is", (t) =>
    noEcho(t, "log-watch"));
  it("the f2bp2p action in [DEFAULT] action: the same", (t) => noEcho(t, "action"));
});
