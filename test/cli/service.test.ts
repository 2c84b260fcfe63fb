import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { loadFriends } from "../../src/config/load.js";
import { writeNetworkFiles } from "../../src/demo/local-network.js";
import { loadIdentity } from "../../src/keys/identity.js";
import { waitFor } from "../helpers/wait.js";

/**
 * What an admin meets around the packaged service: root running commands in the service user's
 * folders, the friend block, reload, and the control socket's permissions. Runs as root (as CI
 * does); `nobody` (uid/gid 65534) stands in for the service user and for a user outside its group.
 */
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bin/f2bp2p.js");
const NOBODY = 65534;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function f2bp2p(args: string[], as: { uid?: number; gid?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, F2BP2P_CONFIG: "" }, timeout: 20_000, ...as },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-svc-"));
  dirs.push(dir);
  return dir;
}

/** `f2bp2p run` as a child; resolves once its control socket answers `status`. */
async function runNode(config: string): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, "-c", config, "run"], { stdio: ["ignore", "ignore", "pipe"] });
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  await waitFor(
    async () => child.exitCode !== null || (await f2bp2p(["-c", config, "status"])).code === 0,
    15_000,
    "the node's control socket",
  );
  assert.equal(child.exitCode, null, `node exited early: ${stderr}`);
  return { child, stderr: () => stderr };
}

describe("root in the service user's folders", () => {
  it("keygen as root writes the keys as the owner of the keys folder", async () => {
    const dir = tempDir();
    const keys = path.join(dir, "keys");
    fs.mkdirSync(keys, { mode: 0o700 });
    fs.chownSync(keys, NOBODY, NOBODY);
    const result = await f2bp2p([
      "keygen",
      "--keys-dir",
      path.join(keys, "node-a"),
      "--name",
      "alpha",
      "--endpoint",
      "tcp://alpha.example.net:7711",
    ]);
    assert.equal(result.code, 0, result.stderr);
    for (const file of ["node-a", "node-a/node.key", "node-a/node.pub"]) {
      const st = fs.statSync(path.join(keys, file));
      assert.deepEqual([file, st.uid, st.gid], [file, NOBODY, NOBODY]);
    }
    assert.equal(fs.statSync(path.join(keys, "node-a/node.key")).mode & 0o777, 0o600);
    // The owner can load what root made.
    fs.chmodSync(dir, 0o755);
    const asOwner = runAsNobody(`
      import { loadIdentity } from ${JSON.stringify(path.resolve(BIN, "../../dist/src/keys/identity.js"))};
      loadIdentity(${JSON.stringify(path.join(keys, "node-a"))});
      console.log("loaded");`);
    assert.equal((await asOwner).trim(), "loaded");
  });

  it("run as root refuses a state folder of another user, names it and says what to run", async () => {
    const files = await writeNetworkFiles({ nodes: [{ name: "a" }], links: [] });
    dirs.push(files.dir);
    const config = files.configs.get("a")!;
    const state = path.join(files.dir, "a", "state");
    fs.mkdirSync(state);
    fs.chownSync(state, NOBODY, NOBODY);
    const result = await f2bp2p(["-c", config, "run"]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`${state} belongs to nobody`));
    assert.match(result.stderr, new RegExp(`runuser -u nobody -- f2bp2p -c ${config} run`));
    assert.deepEqual(fs.readdirSync(state), []);
    assert.equal(fs.existsSync(path.join(files.dir, "a", "bans.log")), false);
  });
});

/** Runs an ES module snippet as nobody; resolves with its stdout. */
function runAsNobody(code: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", code],
      { uid: NOBODY, gid: NOBODY, cwd: "/" },
      (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)),
    );
  });
}

describe("friend-block", () => {
  it("prints the block from the config's name and listen; a friend can save it as it is", async () => {
    const files = await writeNetworkFiles({ nodes: [{ name: "a" }, { name: "b" }], links: [] });
    dirs.push(files.dir);
    const result = await f2bp2p(["-c", files.configs.get("a")!, "friend-block", "--trust", "60"]);
    assert.equal(result.code, 0, result.stderr);
    const block = YAML.parse(result.stdout);
    assert.equal(block.name, "a");
    assert.equal(block.endpoint, `tcp://127.0.0.1:${files.ports.get("a")}`);
    assert.equal(block.trust, 60);
    fs.writeFileSync(path.join(files.dir, "b", "friends.d", "a.yaml"), result.stdout);
    const me = loadIdentity(path.join(files.dir, "b", "keys"));
    const friends = loadFriends(path.join(files.dir, "b", "friends.d"), {
      signingKey: me.signingPublicKey,
      curveKey: me.curvePublicKey,
    });
    assert.deepEqual(
      friends.map((f) => f.name),
      ["a"],
    );
  });

  it("asks for --endpoint when listen binds every interface", async () => {
    const files = await writeNetworkFiles({ nodes: [{ name: "a" }], links: [] });
    dirs.push(files.dir);
    const config = files.configs.get("a")!;
    fs.writeFileSync(
      config,
      fs.readFileSync(config, "utf8").replace(/^listen: .*$/m, "listen: tcp://0.0.0.0:7711"),
    );
    const result = await f2bp2p(["-c", config, "friend-block"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /listen is tcp:\/\/0\.0\.0\.0:7711.*--endpoint tcp:\/\//);
    const given = await f2bp2p(["-c", config, "friend-block", "--endpoint", "tcp://a.example.net:7711"]);
    assert.equal(given.code, 0, given.stderr);
    assert.equal(YAML.parse(given.stdout).endpoint, "tcp://a.example.net:7711");
  });
});

describe("reload (SIGHUP)", () => {
  it("takes on a friend added to friends.d, and keeps running when the config then breaks", async () => {
    const files = await writeNetworkFiles({
      nodes: [
        { name: "a", logLevel: "info" },
        { name: "b", logLevel: "info" },
      ],
      links: [],
    });
    dirs.push(files.dir);
    const configA = files.configs.get("a")!;
    const configB = files.configs.get("b")!;
    const blockOf = async (config: string) => (await f2bp2p(["-c", config, "friend-block"])).stdout;
    // b lists a from the start; a does not know b yet, so it refuses b's first connection.
    fs.writeFileSync(path.join(files.dir, "b", "friends.d", "a.yaml"), await blockOf(configA));
    const a = await runNode(configA);
    const b = await runNode(configB);
    await waitFor(() => b.stderr().includes("friend refused our key"), 15_000, "a's refusal of b");
    // Now a's admin adds b, as the README says, and reloads.
    fs.writeFileSync(path.join(files.dir, "a", "friends.d", "b.yaml"), await blockOf(configB));
    a.child.kill("SIGHUP");
    await waitFor(() => a.stderr().includes("reloaded"), 10_000, "a's reload");
    // b's report reaches a: b tried again after the refusal.
    const fromB = await f2bp2p(["-c", configB, "report", "203.0.113.39"]);
    assert.equal(fromB.code, 0, fromB.stderr);
    const bansA = path.join(files.dir, "a", "bans.log");
    await waitFor(
      () => fs.existsSync(bansA) && fs.readFileSync(bansA, "utf8").includes(" BAN 203.0.113.39 "),
      20_000,
      "the ban at a, from the friend added by reload",
    );
    const report = await f2bp2p(["-c", configA, "report", "203.0.113.40"]);
    assert.equal(report.code, 0, report.stderr);
    const bansB = path.join(files.dir, "b", "bans.log");
    await waitFor(
      () => fs.existsSync(bansB) && fs.readFileSync(bansB, "utf8").includes(" BAN 203.0.113.40 "),
      15_000,
      "the ban at b, through the friend added by reload",
    );

    fs.appendFileSync(configA, "threshold: lots\n");
    a.child.kill("SIGHUP");
    await waitFor(() => a.stderr().includes("reload refused"), 10_000, "the refused reload");
    assert.match(a.stderr(), /threshold/);
    // Still running with the config it had: `report` reads only control_socket from the file.
    const still = await f2bp2p(["-c", configA, "report", "203.0.113.42"]);
    assert.equal(still.code, 0, still.stderr);
    assert.match(still.stdout, /203\.0\.113\.42: accepted/);
    assert.equal(a.child.exitCode, null);
  });
});

describe("the control socket", () => {
  it("tells a user outside its group 'permission denied', not 'is the node running?'", async () => {
    const files = await writeNetworkFiles({ nodes: [{ name: "a" }], links: [] });
    dirs.push(files.dir);
    const config = files.configs.get("a")!;
    const runDir = path.join(files.dir, "a", "run");
    fs.mkdirSync(runDir, { mode: 0o750 });
    const socket = path.join(runDir, "control.sock");
    fs.writeFileSync(
      config,
      fs.readFileSync(config, "utf8").replace(/^control_socket: .*$/m, `control_socket: ${socket}`),
    );
    // The config is readable by everyone (as /etc/f2bp2p/f2bp2p.yaml would be to an admin).
    for (const p of [files.dir, path.join(files.dir, "a"), config]) fs.chmodSync(p, 0o755);
    await runNode(config);
    const other = await f2bp2p(["-c", config, "report", "203.0.113.41"], { uid: NOBODY, gid: NOBODY });
    assert.equal(other.code, 1);
    assert.match(other.stderr, /permission denied on .*control\.sock: only root and members of group root/);
    assert.doesNotMatch(other.stderr, /is 'f2bp2p run'/);
    const status = await f2bp2p(["-c", config, "status"], { uid: NOBODY, gid: NOBODY });
    assert.equal(status.code, 1);
    assert.match(status.stderr, /permission denied/);
    const root = await f2bp2p(["-c", config, "report", "203.0.113.41"]);
    assert.equal(root.code, 0, root.stderr);
  });
});
