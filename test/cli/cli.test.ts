import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import YAML from "yaml";
import { writeNetworkFiles } from "../../src/demo/local-network.js";
import { waitFor } from "../helpers/wait.js";

/** The real `f2bp2p` binary, spawned as fail2ban and a sysadmin would run it. */
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bin/f2bp2p.js");
const exec = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function f2bp2p(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], {
      env: { ...process.env, F2BP2P_CONFIG: "", ...env },
      timeout: 20_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err: unknown) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-cli-"));
  dirs.push(dir);
  return dir;
}

/** Starts `f2bp2p run` and resolves once its control socket answers. */
async function runNode(
  config: string,
): Promise<{ child: ChildProcess; stderr: () => string; exited: Promise<number> }> {
  const child = spawn(process.execPath, [BIN, "-c", config, "run"], { stdio: ["ignore", "ignore", "pipe"] });
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? -1)));
  const socket = path.join(path.dirname(config), "control.sock");
  await waitFor(() => fs.existsSync(socket) || child.exitCode !== null, 10_000, "control socket");
  assert.equal(child.exitCode, null, `node exited early: ${stderr}`);
  return { child, stderr: () => stderr, exited };
}

describe("cli: keygen", () => {
  it("creates keys beside the config, prints the friend block, refuses to overwrite without --force", async () => {
    const dir = tempDir();
    const config = path.join(dir, "f2bp2p.yaml");
    const first = await f2bp2p([
      "-c",
      config,
      "keygen",
      "--name",
      "alpha",
      "--endpoint",
      "tcp://alpha.example.net:7711",
    ]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(YAML.parse(first.stdout).name, "alpha");
    assert.equal(fs.statSync(path.join(dir, "keys", "node.key")).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(path.join(dir, "keys", "node.pub"), "utf8"), first.stdout);

    const again = await f2bp2p([
      "-c",
      config,
      "keygen",
      "--name",
      "alpha",
      "--endpoint",
      "tcp://alpha.example.net:7711",
    ]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists.*--force/);
    const forced = await f2bp2p([
      "-c",
      config,
      "keygen",
      "--name",
      "alpha",
      "--endpoint",
      "tcp://alpha.example.net:7711",
      "--force",
    ]);
    assert.equal(forced.code, 0);
    assert.notEqual(forced.stdout, first.stdout);
  });

  it("explains a missing option with exit 2", async () => {
    const result = await f2bp2p(["keygen", "--name", "alpha"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /endpoint/);
  });
});

describe("cli: run and report", () => {
  it("a report at one node is acknowledged and lands in its friend's bans log", async () => {
    const files = await writeNetworkFiles({
      nodes: [{ name: "a" }, { name: "b", logLevel: "info" }],
      links: [["a", "b", 80, 80]],
    });
    dirs.push(files.dir);
    const a = await runNode(files.configs.get("a")!);
    const b = await runNode(files.configs.get("b")!);
    const bansB = path.join(files.dir, "b", "bans.log");

    const ack = await f2bp2p(["-c", files.configs.get("a")!, "report", "203.0.113.7", "--jail", "sshd"]);
    assert.equal(ack.code, 0, ack.stderr);
    assert.match(ack.stdout, /203\.0\.113\.7: accepted, score 100, banned here/);
    // Written before the acknowledgement: no waiting for a's own line.
    assert.match(
      fs.readFileSync(path.join(files.dir, "a", "bans.log"), "utf8"),
      / BAN 203\.0\.113\.7 score=100 /,
    );
    await waitFor(
      () => fs.existsSync(bansB) && fs.readFileSync(bansB, "utf8").includes("BAN 203.0.113.7 "),
      10_000,
      "ban at b",
    );
    assert.match(fs.readFileSync(bansB, "utf8"), /BAN 203\.0\.113\.7 score=80 origin=[0-9a-f]{12} hops=1\n$/);

    const dup = await f2bp2p(["-c", files.configs.get("a")!, "report", "203.0.113.7"]);
    assert.equal(dup.code, 0);
    assert.match(dup.stdout, /duplicate/);

    const score = await f2bp2p(["-c", files.configs.get("b")!, "status", "--ip", "203.0.113.7"]);
    assert.equal(score.code, 0, score.stderr);
    assert.match(
      score.stdout,
      /^203\.0\.113\.7: score 80 \(threshold 80\), banned\n {2}origin [0-9a-f]{12}: trust 80, 1 hop\(s\), via a\n$/,
    );

    const status = await f2bp2p(["-c", files.configs.get("b")!, "status", "-o", "json"]);
    assert.equal(status.code, 0, status.stderr);
    const parsed = JSON.parse(status.stdout);
    assert.equal(parsed.stats.bans, 1);
    assert.equal(parsed.friends[0].name, "a");
    assert.equal(parsed.friends[0].reportsHeld, 1);
    assert.deepEqual(parsed.friends[0].rejected, {});

    // logrotate: move the bans log and the auth log away, SIGHUP, and the node starts a new file at
    // each path; the next ban goes to the new bans log.
    const authB = path.join(files.dir, "b", "auth.log");
    assert.ok(fs.existsSync(authB), "the auth log is opened at start");
    fs.renameSync(bansB, `${bansB}.1`);
    fs.renameSync(authB, `${authB}.1`);
    b.child.kill("SIGHUP");
    await waitFor(() => b.stderr().includes("bans log reopened"), 5000, "reopen");
    await waitFor(() => fs.existsSync(authB), 5000, "the auth log made again at its path");
    assert.equal(fs.statSync(authB).mode & 0o777, 0o640);
    assert.equal((await f2bp2p(["-c", files.configs.get("a")!, "report", "2001:db8::5"])).code, 0);
    await waitFor(
      () => fs.existsSync(bansB) && fs.readFileSync(bansB, "utf8").includes("BAN 2001:db8::5 "),
      10_000,
      "ban in new file",
    );
    assert.doesNotMatch(fs.readFileSync(`${bansB}.1`, "utf8"), /2001:db8::5/);

    a.child.kill("SIGTERM");
    b.child.kill("SIGINT");
    assert.equal(await a.exited, 0);
    assert.equal(await b.exited, 0);
    assert.equal(fs.existsSync(path.join(files.dir, "a", "control.sock")), false);
  });

  it("report: a bad IP exits 2; a stopped node: queued in the spool, exit 0; no spool either: exit 1 and why", async () => {
    const files = await writeNetworkFiles({ nodes: [{ name: "solo" }], links: [] });
    dirs.push(files.dir);
    const config = files.configs.get("solo")!;
    const bad = await f2bp2p(["-c", config, "report", "203.0.113.300"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not an IPv4 or IPv6 address/);
    const spool = path.join(files.dir, "solo", "state", "spool");
    assert.equal(fs.existsSync(spool), false, "nothing spooled for a bad report");

    const before = Date.now();
    const down = await f2bp2p(["-c", config, "report", "203.0.113.30", "--jail", "sshd"]);
    const after = Date.now();
    assert.equal(down.code, 0, down.stderr);
    const queued =
      /^203\.0\.113\.30: queued in (\S+\.report); the node takes it in when it runs \(cannot reach the f2bp2p node .*\)\n$/.exec(
        down.stdout,
      );
    assert.ok(queued, down.stdout);
    assert.equal(path.dirname(queued[1]!), spool);
    const { time, ...rest } = JSON.parse(fs.readFileSync(queued[1]!, "utf8"));
    assert.deepEqual(rest, { v: 1, ip: "203.0.113.30", jail: "sshd" });
    assert.ok(time >= before && time <= after, `spooled time ${time} within the call`);
    assert.equal(fs.statSync(queued[1]!).mode & 0o777, 0o640);
    assert.equal(fs.statSync(spool).mode & 0o7777, 0o2770);

    // spool_dir is a file: nothing can be stored, and the message says so.
    const blocked = path.join(files.dir, "solo", "not-a-folder");
    fs.writeFileSync(blocked, "");
    fs.appendFileSync(config, `spool_dir: ${blocked}\n`);
    const nowhere = await f2bp2p(["-c", config, "report", "203.0.113.31"]);
    assert.equal(nowhere.code, 1);
    assert.equal(nowhere.stdout, "");
    assert.match(nowhere.stderr, /cannot reach the f2bp2p node/);
    assert.match(nowhere.stderr, /not spooled: cannot use spool folder .*not-a-folder: not a folder/);
  });

  it("run: a node never reports loopback or its ignore list", async () => {
    const files = await writeNetworkFiles({
      nodes: [{ name: "solo", ignore: ["198.51.100.0/24"] }],
      links: [],
    });
    dirs.push(files.dir);
    const config = files.configs.get("solo")!;
    const node = await runNode(config);
    for (const ip of ["127.0.0.1", "::1", "198.51.100.77"]) {
      const result = await f2bp2p(["-c", config, "report", ip]);
      assert.equal(result.code, 0);
      assert.match(result.stdout, /not reported/);
    }
    const bans = path.join(files.dir, "solo", "bans.log");
    assert.equal(fs.existsSync(bans) ? fs.readFileSync(bans, "utf8") : "", "");
    node.child.kill("SIGTERM");
    assert.equal(await node.exited, 0);
  });

  it("run: a bad config exits 2 without starting, naming the file and the key", async () => {
    const files = await writeNetworkFiles({ nodes: [{ name: "bad" }], links: [] });
    dirs.push(files.dir);
    const config = files.configs.get("bad")!;
    const doc = YAML.parse(fs.readFileSync(config, "utf8"));
    fs.writeFileSync(config, YAML.stringify({ ...doc, threshold: 150, colour: "blue" }));
    const result = await f2bp2p(["-c", config, "run"]);
    assert.equal(result.code, 2);
    assert.ok(result.stderr.includes(config));
    assert.match(result.stderr, /threshold/);
    assert.match(result.stderr, /colour/);
    assert.equal(fs.existsSync(path.join(files.dir, "bad", "control.sock")), false);
  });

  it("run: a second node on the same control socket refuses to start", async () => {
    const files = await writeNetworkFiles({ nodes: [{ name: "once" }], links: [] });
    dirs.push(files.dir);
    const config = files.configs.get("once")!;
    const first = await runNode(config);
    const second = await f2bp2p(["-c", config, "run"]);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, /already|in use/i);
    first.child.kill("SIGTERM");
    assert.equal(await first.exited, 0);
  });

  it("demo: six nodes, trust 100, 80, 64, 51 along the line, and only the first two ban", async () => {
    const result = await f2bp2p(["demo"]);
    assert.equal(result.code, 0, result.stderr);
    const rows = new Map(
      result.stdout
        .split("\n\n")
        .find((block) => block.startsWith("node "))!
        .split("\n")
        .slice(1)
        .map((line) => line.trim().split(/\s+/))
        .map((cells) => [cells[0]!, { trust: cells[1], banned: cells[3] }]),
    );
    assert.deepEqual(Object.fromEntries(rows), {
      alpha: { trust: "100", banned: "yes" },
      bravo: { trust: "80", banned: "yes" },
      charlie: { trust: "64", banned: "no" },
      delta: { trust: "51", banned: "no" },
      echo: { trust: "40", banned: "no" },
      foxtrot: { trust: "40", banned: "no" },
    });
  });

  it("--help lists the commands", async () => {
    const result = await f2bp2p(["--help"]);
    assert.equal(result.code, 0);
    for (const cmd of ["keygen", "run", "report", "status", "check", "demo"])
      assert.match(result.stdout, new RegExp(cmd));
  });
});
