/**
 * The spool on the action path, with real `f2bp2p run` processes and the real CLI: reports made
 * while node A is stopped, killed (kill -9) or hung (SIGSTOP) are queued by `f2bp2p report` (exit 0)
 * and arrive exactly once, at A and at its friend B, after A starts or continues.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it, type TestContext } from "node:test";
import { promisify } from "node:util";
import { spoolReport } from "../../src/spool/write.js";
import { requireFail2ban } from "../helpers/fail2ban.js";
import { waitFor } from "../helpers/wait.js";
import {
  assertNoFail2banErrors,
  BIN,
  failedLogin,
  type RunningNode,
  runNetwork,
  runNode,
  Scene,
  startF2bp2pJailHost,
  startSshdHost,
} from "./hosts.js";

const exec = promisify(execFile);

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `f2bp2p -c CONFIG report IP --jail sshd` with the real binary; resolves with its exit code and
 * output. `niced`: at the lowest CPU priority, so a burst of them does not starve tests running
 * beside this one on the shared machine.
 */
async function report(node: RunningNode, ip: string, niced = false): Promise<Run> {
  try {
    const args = [BIN, "-c", node.config, "report", ip, "--jail", "sshd"];
    const [command, argv] = niced
      ? ["nice", ["-n", "19", process.execPath, ...args]]
      : [process.execPath, args];
    const { stdout, stderr } = await exec(command, argv, {
      env: { ...process.env, F2BP2P_CONFIG: "" },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err: unknown) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The spool file `report` said it queued the report in; fails unless it exited 0 with that message. */
function queuedFile(run: Run, ip: string): string {
  assert.equal(run.code, 0, run.stderr);
  const match = new RegExp(
    `^${ip.replaceAll(".", "\\.")}: queued in (\\S+\\.report); the node takes it in`,
  ).exec(run.stdout);
  assert.ok(match, `not queued: ${run.stdout}${run.stderr}`);
  return match[1]!;
}

/** chown -R */
function chownTree(dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, uid, gid);
    else fs.lchownSync(p, uid, gid);
  }
}

function spoolDir(node: RunningNode): string {
  return path.join(node.home, "state", "spool");
}

function spooled(node: RunningNode): string[] {
  return fs.readdirSync(spoolDir(node)).filter((name) => name.endsWith(".report"));
}

/** The IPs of the node's bans log, one per line, in file order. */
function bannedIps(node: RunningNode): string[] {
  return node
    .bans()
    .split("\n")
    .filter(Boolean)
    .map((line) => / BAN (\S+) /.exec(line)?.[1] ?? `unparsed: ${line}`);
}

/** Every IP has exactly one line in the bans log, and no other IP has one. */
function assertBannedOnce(node: RunningNode, ips: readonly string[]): void {
  assert.deepEqual([...bannedIps(node)].sort(), [...ips].sort(), `bans log of ${node.name}`);
}

/** Waits until the node's bans log holds all of `ips` (and maybe more: the caller then checks "once"). */
async function awaitBans(node: RunningNode, ips: readonly string[]): Promise<void> {
  await waitFor(
    () => {
      const have = new Set(bannedIps(node));
      return ips.every((ip) => have.has(ip));
    },
    60_000,
    `${ips.length} ban line(s) at ${node.name}`,
  );
}

/**
 * Waits for a line in the node's log. The log reaches the test through a pipe, read apart from the
 * control socket and the files: a line may show up after what the node did after logging it.
 */
async function awaitLog(node: RunningNode, pattern: RegExp): Promise<void> {
  await waitFor(() => pattern.test(node.stderr()), 60_000, `${pattern} in the log of ${node.name}`);
}

/** Network a ↔ b (trust 80: one report from a bans at b too); returns both nodes. */
async function twoNodes(scene: Scene): Promise<{ a: RunningNode; b: RunningNode }> {
  await runNetwork(scene, {
    nodes: [
      { name: "a", logLevel: "info" },
      { name: "b", logLevel: "info" },
    ],
    links: [["a", "b", 80, 80]],
  });
  return { a: scene.node("a"), b: scene.node("b") };
}

/** Starts `f2bp2p run` for a's config again; the scene then refers to the new process. */
async function restart(scene: Scene, node: RunningNode): Promise<RunningNode> {
  const again = await runNode(node.name, node.config, scene.teardown);
  scene.nodes.set(node.name, again);
  return again;
}

/** Reports, queued while the node is down, arrive once at it and at its friend after it starts. */
async function queuedWhileDownArriveOnce(
  t: TestContext,
  takeDown: (a: RunningNode) => Promise<void>,
  ips: readonly string[],
): Promise<void> {
  const scene = new Scene(t);
  await scene.run(t, async () => {
    let { a, b } = await twoNodes(scene);
    await takeDown(a);
    for (const ip of ips) queuedFile(await report(a, ip), ip);
    assert.equal(spooled(a).length, ips.length);
    assert.equal(b.bans(), "");

    a = await restart(scene, a);
    // Taken in before the control socket opened, so runNode's return means it is done.
    assert.deepEqual(spooled(a), []);
    assertBannedOnce(a, ips);
    await awaitBans(b, ips);
    assertBannedOnce(b, ips);
    assert.equal((await a.status()).stats.localReports, ips.length);
    const { spool } = (await a.status()) as unknown as { spool: Record<string, unknown> };
    assert.deepEqual(spool, { dir: spoolDir(a), waiting: 0, takenIn: ips.length, setAside: 0 });
    for (const ip of ips)
      await awaitLog(a, new RegExp(`spooled report taken in ip=${ip} jail=sshd .*status=accepted`));

    // Reported again now that the node runs: a duplicate, no second wave.
    const again = await report(a, ips[0]!);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /: duplicate, score 100, banned here\n$/);
    assertBannedOnce(a, ips);
  });
}

describe("spool: reports while the node gives no answer arrive once", () => {
  it("node stopped (SIGTERM): queued with exit 0, taken in at start, at its friend too", {
    timeout: 120_000,
  }, async (t) => {
    await queuedWhileDownArriveOnce(t, (a) => a.stop(), ["203.0.113.61", "2001:db8::61"]);
  });

  it("node killed (kill -9, stale control socket): queued, taken in at start", {
    timeout: 120_000,
  }, async (t) => {
    await queuedWhileDownArriveOnce(
      t,
      async (a) => {
        a.child.kill("SIGKILL");
        await a.exited;
        assert.ok(fs.existsSync(a.controlSocket), "kill -9 leaves the control socket behind");
      },
      ["203.0.113.62"],
    );
  });

  it("node hung (SIGSTOP): report times out and queues; once continued, the report counts once", {
    timeout: 120_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const { a, b } = await twoNodes(scene);
      const ip = "203.0.113.63";
      a.child.kill("SIGSTOP");
      let continued = false;
      scene.teardown.add(() => continued || a.child.kill("SIGCONT"));
      // The kernel accepts the connection and takes the request; the node never answers.
      const file = queuedFile(await report(a, ip), ip);
      assert.ok(fs.existsSync(file));
      assert.equal(a.bans(), "");

      a.child.kill("SIGCONT");
      continued = true;
      // The node may also read the request the hung `report` left in its socket: one of the two
      // counts, the other answers duplicate. Either way one ban line here and at the friend.
      await awaitLog(
        a,
        new RegExp(`spooled report taken in ip=${ip} jail=sshd .*status=(accepted|duplicate)`),
      );
      await waitFor(() => !fs.existsSync(file), 60_000, "the spool file to be removed");
      await awaitBans(b, [ip]);
      assertBannedOnce(a, [ip]);
      assertBannedOnce(b, [ip]);
      assert.equal((await a.status()).stats.localReports, 1);
      assert.deepEqual(spooled(a), []);
    });
  });

  it("a spooled report the node already has (e.g. a hung node that woke up) is a duplicate: no second line, no second wave", {
    timeout: 120_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      let { a, b } = await twoNodes(scene);
      const ip = "203.0.113.64";
      const first = await report(a, ip);
      assert.match(first.stdout, /: accepted, score 100, banned here\n$/);
      await awaitBans(b, [ip]);
      await a.stop();
      // The same ban in the spool as a hung node's `report` would have left it.
      const spooledFile = queuedFile(await report(a, ip), ip);
      a = await restart(scene, a);
      await awaitLog(a, new RegExp(`spooled report taken in ip=${ip} jail=sshd .*status=duplicate`));
      assert.ok(!fs.existsSync(spooledFile));
      assertBannedOnce(a, [ip]);
      assert.equal((await a.status()).stats.localReports, 0, "nothing new signed");
      // A second report from a would reach b as a new report id; b's log shows it never came.
      const again = await report(a, "203.0.113.65");
      assert.match(again.stdout, /: accepted, /);
      await awaitBans(b, ["203.0.113.65"]);
      assertBannedOnce(b, [ip, "203.0.113.65"]);
      assert.equal((await b.status()).stats.accepted, 2);
    });
  });

  it("200 concurrent reports while the node is down: all arrive in order, none twice", {
    timeout: 300_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      let { a, b } = await twoNodes(scene);
      await a.stop();
      // 203.0.113.1-200: documentation range, never this host's own address.
      const ips = Array.from({ length: 200 }, (_, i) => `203.0.113.${i + 1}`);
      const runs = await Promise.all(ips.map((ip) => report(a, ip, true)));
      const files = runs.map((run, i) => queuedFile(run, ips[i]!));
      assert.equal(new Set(files).size, 200, "every report has its own file");
      assert.equal(spooled(a).length, 200);
      // The arrival order: the order of the file names.
      const byName = new Map(files.map((file, i) => [path.basename(file), ips[i]!]));
      const arrival = [...byName.keys()].sort().map((name) => byName.get(name)!);

      a = await restart(scene, a);
      assert.deepEqual(spooled(a), []);
      assert.deepEqual(bannedIps(a), arrival, "taken in in arrival order, each once");
      await awaitBans(b, ips);
      assertBannedOnce(b, ips);
      assert.equal((await a.status()).stats.localReports, 200);
    });
  });
});

describe("spool: the node killed while taking the spool in", () => {
  it("kill -9 in the middle of the intake: after a restart every report is here once, and at the friend once", {
    timeout: 180_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      let { a, b } = await twoNodes(scene);
      await a.stop();
      const ips = [
        ...Array.from({ length: 250 }, (_, i) => `198.51.100.${i + 1}`),
        ...Array.from({ length: 50 }, (_, i) => `203.0.113.${i + 101}`),
      ];
      for (const ip of ips) {
        const written = spoolReport(spoolDir(a), { ip, jail: "sshd", time: Date.now() });
        assert.ok(written.ok);
      }
      // `f2bp2p run` by hand: killed once it has logged 100 reports taken in (wherever that lands:
      // between a commit and its file's removal, or between two files, the outcome must be the same).
      const child = spawn(process.execPath, [BIN, "-c", a.config, "run"], {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, F2BP2P_CONFIG: "" },
      });
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      scene.teardown.add(async () => {
        child.kill("SIGKILL");
        await exited;
      });
      let log = "";
      await new Promise<void>((resolve) => {
        child.stderr!.on("data", (d: Buffer) => {
          log += d.toString();
          if (log.split("spooled report taken in").length > 100) resolve();
        });
        void exited.then(() => resolve());
      });
      child.kill("SIGKILL");
      await exited;
      const left = spooled(a).length;
      t.diagnostic(`killed with ${left} of ${ips.length} files still in the spool`);

      a = await restart(scene, a);
      await awaitLog(a, /spool pass done /);
      assert.deepEqual(spooled(a), []);
      // Here: every report once, whichever were committed before the kill.
      assertBannedOnce(a, ips);
      // Those committed only now travel to b and must all arrive there once.
      const acceptedNow = [...a.stderr().matchAll(/spooled report taken in ip=(\S+) .*status=accepted/g)].map(
        (m) => m[1]!,
      );
      assert.ok(
        acceptedNow.length >= left - 1,
        `${acceptedNow.length} accepted after the restart, ${left} left`,
      );
      // Reports committed before the kill but still queued for b died with the process; b gets
      // them by catch-up sync from a's store when a is back: every report, once.
      await awaitBans(b, ips);
      assertBannedOnce(b, ips);
      t.diagnostic(`${ips.length - acceptedNow.length} were committed before the kill`);
    });
  });
});

describe("spool: bad files", () => {
  it("damaged, refused and future-dated files are set aside in bad/ and logged; the node keeps going", {
    timeout: 120_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      let { a, b } = await twoNodes(scene);
      await a.stop();
      const good = "203.0.113.71";
      const goodFile = path.basename(queuedFile(await report(a, good), good));
      const dir = spoolDir(a);
      const now = Date.now();
      const name = (n: number) =>
        `${String(now).padStart(15, "0")}-${String(n).padStart(20, "0")}-1-0000000${n}.report`;
      const bad = new Map([
        [name(1), "{not json\n"],
        [name(2), `${JSON.stringify({ v: 1, ip: "203.0.113.72", jail: "sshd" })}\n`],
        [name(3), `${JSON.stringify({ v: 1, ip: "not-an-ip", jail: "sshd", time: now })}\n`],
        [name(4), `${JSON.stringify({ v: 1, ip: "203.0.113.73", jail: "sshd", time: now + 3_600_000 })}\n`],
        [name(5), "x".repeat(5000)],
      ]);
      for (const [file, text] of bad) fs.writeFileSync(path.join(dir, file), text);

      a = await restart(scene, a);
      await awaitLog(a, /spool pass done taken=1 setAside=5 /);
      assert.deepEqual(spooled(a), []);
      assert.deepEqual(fs.readdirSync(path.join(dir, "bad")).sort(), [...bad.keys()].sort());
      for (const [file, text] of bad)
        assert.equal(fs.readFileSync(path.join(dir, "bad", file), "utf8"), text);
      const log = a.stderr();
      for (const reason of [
        "damaged: not JSON",
        "damaged: bad time",
        "not an IPv4 or IPv6 address",
        "is in the future",
        "damaged: larger than a report",
      ])
        assert.match(log, new RegExp(`bad spool file set aside .*reason=.*${reason}`));
      assert.match(log, new RegExp(`spooled report taken in ip=${good} `));
      assert.ok(!fs.existsSync(path.join(dir, goodFile)));
      assertBannedOnce(a, [good]);
      await awaitBans(b, [good]);
      assertBannedOnce(b, [good]);

      // While running: a damaged file that lands in the spool is set aside too.
      const late = name(6);
      fs.writeFileSync(path.join(dir, late), "\0\0\0");
      // The node logs after the move: once the line is there, so is the file.
      await awaitLog(a, new RegExp(`bad spool file set aside file=${late} reason=damaged`));
      assert.ok(fs.existsSync(path.join(dir, "bad", late)));
      assert.deepEqual(spooled(a), []);
      const { spool } = (await a.status()) as unknown as { spool: Record<string, unknown> };
      assert.deepEqual(spool, { dir, waiting: 0, takenIn: 1, setAside: 6 });
      assert.equal((await a.status()).stats.localReports, 1);
    });
  });
});

describe("spool: permissions when fail2ban runs report as root and the node as its own user", () => {
  it("files are handed to the spool folder's owner and group; created folders are setgid; the node as that user takes them in", {
    timeout: 60_000,
  }, async (t) => {
    if (process.getuid?.() !== 0) {
      // Handing files to another user needs root; CI runs as root.
      if (process.env.CI) assert.fail("this test must run as root on CI");
      t.skip("needs root (chown)");
      return;
    }
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const { a } = await twoNodes(scene);
      await a.stop();
      // The daemon's user: nobody:nogroup (65534) owns the state dir, the spool does not exist yet.
      const state = path.join(a.home, "state");
      fs.chownSync(state, 65534, 65534);
      fs.rmSync(spoolDir(a), { recursive: true, force: true });
      const file = queuedFile(await report(a, "203.0.113.81"), "203.0.113.81");
      const folder = fs.statSync(spoolDir(a));
      assert.deepEqual([folder.uid, folder.gid, folder.mode & 0o7777], [65534, 65534, 0o2770]);
      const made = fs.statSync(file);
      assert.deepEqual([made.uid, made.gid, made.mode & 0o777], [65534, 65534, 0o640]);

      // An existing spool folder owned by the daemon, with root's umask 077 as under fail2ban.
      fs.chownSync(spoolDir(a), 65534, 0);
      const second = await exec("/bin/sh", [
        "-c",
        `umask 077; exec '${process.execPath}' '${BIN}' -c '${a.config}' report 203.0.113.82`,
      ]);
      const other = fs.statSync(queuedFile({ code: 0, ...second }, "203.0.113.82"));
      assert.deepEqual([other.uid, other.gid, other.mode & 0o777], [65534, 0, 0o640]);

      // The node, run as that user, takes in and removes both files root left.
      fs.chmodSync(scene.root, 0o755);
      chownTree(a.home, 65534, 65534);
      fs.chownSync(spoolDir(a), 65534, 0);
      const daemon = spawn(
        "setpriv",
        [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "--",
          process.execPath,
          BIN,
          "-c",
          a.config,
          "run",
        ],
        { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, F2BP2P_CONFIG: "" } },
      );
      let log = "";
      daemon.stderr!.on("data", (d: Buffer) => {
        log += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => daemon.once("exit", (code) => resolve(code)));
      scene.teardown.add(async () => {
        if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill("SIGKILL");
        await exited;
      });
      await waitFor(
        () => daemon.exitCode !== null || /spool pass done taken=2 setAside=0/.test(log),
        60_000,
        "the node running as uid 65534 to take in the spool",
      ).catch((err: Error) => {
        throw new Error(`${err.message}; its log:\n${log}`);
      });
      assert.equal(daemon.exitCode, null, log);
      assert.deepEqual(spooled(a), []);
      assertBannedOnce(a, ["203.0.113.81", "203.0.113.82"]);
    });
  });
});

describe("e2e: a ban made by fail2ban while the node is down reaches the friend's fail2ban", () => {
  it("A's sshd jail bans with the shipped f2bp2p action while node A is stopped; A starts; B's fail2ban bans", {
    timeout: 180_000,
  }, async (t) => {
    if (!(await requireFail2ban(t))) return;
    const scene = new Scene(t);
    await scene.run(t, async () => {
      let { a, b } = await twoNodes(scene);
      const attacker = "203.0.113.90";
      const hostB = await startF2bp2pJailHost(scene, b);
      await a.stop();
      const hostA = await startSshdHost(scene, a, { withF2bp2pAction: true });

      fs.appendFileSync(hostA.authLog, failedLogin(attacker).repeat(3));
      // A's jail banned and its f2bp2p action ran: `report` queued the ban.
      await waitFor(
        () =>
          fs.existsSync(hostA.dummyTarget) &&
          fs.readFileSync(hostA.dummyTarget, "utf8").includes(`+${attacker}\n`),
        60_000,
        "A's sshd jail to ban",
      );
      await waitFor(() => spooled(a).length === 1, 60_000, "the ban to be queued in A's spool");
      assert.equal(b.bans(), "");
      assert.deepEqual(await hostB.fail2ban.banned("f2bp2p"), []);

      a = await restart(scene, a);
      await waitFor(
        async () => (await hostB.fail2ban.banned("f2bp2p")).includes(attacker),
        60_000,
        "B's f2bp2p jail to ban the attacker",
      );
      assertBannedOnce(a, [attacker]);
      assertBannedOnce(b, [attacker]);
      assert.deepEqual(spooled(a), []);
      // The action did not fail: fail2ban logged no "Failed to execute ban".
      assertNoFail2banErrors(hostA.fail2ban);
      assertNoFail2banErrors(hostB.fail2ban);
    });
  });
});
