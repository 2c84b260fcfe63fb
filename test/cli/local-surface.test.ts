import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { writeNetworkFiles } from "../../src/demo/local-network.js";
import { BIN, f2bp2p, spawnNode } from "../helpers/cli.js";

const exec = promisify(execFile);
/** Another local user: nobody. */
const OTHER_UID = 65534;
const asRoot = process.geteuid?.() === 0;

/** Files and folders a local user could plant or widen, against `check`, `run` and `report`. */
describe("cli: the local surface", { timeout: 120_000, skip: asRoot ? false : "needs root to chown" }, () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function oneNode(): Promise<{ config: string; home: string }> {
    const files = await writeNetworkFiles({
      nodes: [{ name: "a", logLevel: "info" }, { name: "b" }],
      links: [["a", "b"]],
    });
    dirs.push(files.dir);
    const config = files.configs.get("a")!;
    return { config, home: path.dirname(config) };
  }

  it("refuses a keys folder others can write, in check and in run", async () => {
    const { config, home } = await oneNode();
    fs.chmodSync(path.join(home, "keys"), 0o777);
    const check = await f2bp2p(["-c", config, "check"]);
    assert.equal(check.code, 2);
    assert.match(check.stderr, /others can write the keys folder/);
    const node = spawnNode(config);
    assert.equal(await node.exited, 2);
    assert.match(node.stderr(), /others can write the keys folder/);
  });

  it("refuses node.key as a symlink to another user's file", async () => {
    const { config, home } = await oneNode();
    const key = path.join(home, "keys", "node.key");
    const theirs = path.join(home, "theirs.key");
    fs.renameSync(key, theirs);
    fs.chownSync(theirs, OTHER_UID, OTHER_UID);
    fs.symlinkSync(theirs, key);
    const check = await f2bp2p(["-c", config, "check"]);
    assert.equal(check.code, 2);
    assert.match(check.stderr, /node\.key is a symlink to a file of another user/);
  });

  it("warns about a friends.d anyone can write and a friend file of another user", async () => {
    const { config, home } = await oneNode();
    const friends = path.join(home, "friends.d");
    fs.chmodSync(friends, 0o777);
    const planted = path.join(home, "planted.yaml");
    fs.renameSync(path.join(friends, "b.yaml"), planted);
    fs.chownSync(planted, OTHER_UID, OTHER_UID);
    fs.symlinkSync(planted, path.join(friends, "b.yaml"));
    const check = await f2bp2p(["-c", config, "check"]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /warning: .*friends\.d: anyone can write friends\.d/);
    assert.match(
      check.stdout,
      /warning: .*b\.yaml: friend file is a symlink to a file that belongs to another user/,
    );
  });

  it("under umask 000 creates the control socket and auth log folders 0750 and the auth log 0640", async () => {
    const { config, home } = await oneNode();
    const text = fs
      .readFileSync(config, "utf8")
      .replace(/control_socket: .*/, "control_socket: run/f2bp2p/control.sock")
      .replace(/auth_log: .*/, "auth_log: log/f2bp2p/auth.log");
    fs.writeFileSync(config, text);
    const child = execFile("sh", ["-c", `umask 000; exec '${process.execPath}' '${BIN}' -c '${config}' run`]);
    const exited = new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? -1)));
    const socket = path.join(home, "run", "f2bp2p", "control.sock");
    try {
      for (;;) {
        const status = await f2bp2p(["-c", config, "status"]);
        if (status.code === 0) break;
        assert.equal(child.exitCode, null, "the node exited");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(fs.statSync(path.dirname(socket)).mode & 0o7777, 0o750);
      assert.equal(fs.statSync(socket).mode & 0o777, 0o660);
      assert.equal(fs.statSync(path.join(home, "log", "f2bp2p")).mode & 0o7777, 0o750);
      assert.equal(fs.statSync(path.join(home, "log", "f2bp2p", "auth.log")).mode & 0o7777, 0o640);
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0);
  });

  it("never follows a symlink planted at the control socket path or the auth log", async () => {
    const { config, home } = await oneNode();
    const target = path.join(home, "target");
    fs.writeFileSync(target, "");
    fs.symlinkSync(target, path.join(home, "control.sock"));
    const node = spawnNode(config);
    assert.notEqual(await node.exited, 0);
    assert.match(node.stderr(), /control\.sock exists and is not a socket/);
    fs.rmSync(path.join(home, "control.sock"));
    fs.rmSync(path.join(home, "auth.log"), { force: true });
    fs.symlinkSync(target, path.join(home, "auth.log"));
    const second = spawnNode(config);
    try {
      await second.lines(/cannot open the authentication-failure log/);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
    assert.equal(fs.readFileSync(target, "utf8"), "");
  });

  it("says 'permission denied' (not 'is the node running?') to a user who may not use the socket", async () => {
    const { config } = await oneNode();
    const node = spawnNode(config);
    try {
      for (;;) {
        if ((await f2bp2p(["-c", config, "status"])).code === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // The config is readable by the other user; the socket's folder is not.
      const copy = path.join("/tmp", `f2bp2p-eacces-${process.pid}.yaml`);
      const socket = path.join(path.dirname(config), "control.sock");
      fs.writeFileSync(copy, `control_socket: ${socket}\n`, { mode: 0o644 });
      dirs.push(copy);
      const result = await exec(process.execPath, [BIN, "-c", copy, "report", "203.0.113.5"], {
        uid: OTHER_UID,
        gid: OTHER_UID,
      }).then(
        (r) => ({ code: 0, stderr: r.stderr }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
      assert.notEqual(result.code, 0);
      // This user may not even look into the socket's folder, so the group cannot be named.
      assert.match(
        result.stderr,
        /permission denied on .*control\.sock: only root and members of the socket's group may use it/,
      );
      assert.doesNotMatch(result.stderr, /is the node running/);
    } finally {
      node.child.kill("SIGTERM");
      await node.exited;
    }
  });
});
