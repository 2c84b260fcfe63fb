import assert from "node:assert/strict";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import { writeNetworkFiles } from "../../src/demo/local-network.js";
import { f2bp2p, spawnNode } from "../helpers/cli.js";

/** `check` says ok exactly when `run` starts: IPv6 listen addresses, foreign addresses, folders. */
describe("cli: check catches what run refuses", { timeout: 60_000 }, () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** `f2bp2p status` once the node answers it (the control socket comes up after the listener). */
  async function untilAnswered(config: string): Promise<string> {
    for (;;) {
      const status = await f2bp2p(["-c", config, "status", "--json"]);
      if (status.code === 0) return status.stdout;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function configListening(
    listen: (port: number) => string,
  ): Promise<{ config: string; port: number }> {
    const files = await writeNetworkFiles({ nodes: [{ name: "a", logLevel: "info" }], links: [] });
    dirs.push(files.dir);
    const config = files.configs.get("a")!;
    const port = files.ports.get("a")!;
    const text = fs.readFileSync(config, "utf8").replace(/listen: .*/, `listen: ${listen(port)}`);
    fs.writeFileSync(config, text);
    return { config, port };
  }

  it("listen on tcp://[::1]:PORT: check is ok and run starts on it", async () => {
    const { config, port } = await configListening((p) => `tcp://[::1]:${p}`);
    const check = await f2bp2p(["-c", config, "check"]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /: ok\n/);
    const node = spawnNode(config);
    try {
      await node.lines(/node started/);
      const status = await untilAnswered(config);
      assert.equal(JSON.parse(status).listen, `tcp://[::1]:${port}`);
    } finally {
      node.child.kill("SIGTERM");
    }
    assert.equal(await node.exited, 0);
  });

  it("listen on an address this host does not have: check and run both refuse it", async () => {
    const { config } = await configListening((p) => `tcp://[2001:db8::5]:${p}`);
    const check = await f2bp2p(["-c", config, "check"]);
    assert.equal(check.code, 2);
    assert.match(check.stderr, /listen: expected an address of this host .*not an address of this host/);
    const node = spawnNode(config);
    assert.notEqual(await node.exited, 0);
    assert.match(node.stderr(), /cannot listen on tcp:\/\/\[2001:db8::5\]/);
  });

  it("a control socket in a folder the node cannot create: check and run refuse it; a bans log there is a warning", async () => {
    const { config } = await configListening((p) => `tcp://127.0.0.1:${p}`);
    // The folders would be below a file: nobody can create them.
    const text = fs
      .readFileSync(config, "utf8")
      .replace(/bans_log: .*/, "bans_log: f2bp2p.yaml/bans.log")
      .replace(/control_socket: .*/, "control_socket: f2bp2p.yaml/control.sock");
    fs.writeFileSync(config, text);
    const check = await f2bp2p(["-c", config, "check"]);
    assert.equal(check.code, 2);
    assert.match(check.stderr, /control_socket: expected a folder the node can write to/);
    const node = spawnNode(config);
    assert.notEqual(await node.exited, 0);
    fs.writeFileSync(config, text.replace(/control_socket: .*/, "control_socket: control.sock"));
    const again = await f2bp2p(["-c", config, "check"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      /warning: bans_log: a folder the node can write to \(or create\), got .* is not a folder/,
    );
  });
});
