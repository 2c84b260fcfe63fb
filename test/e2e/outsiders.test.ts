/**
 * Outsiders on real sockets against a real `f2bp2p run`: unknown CURVE keys, NULL and PLAIN clients,
 * garbage, idle and half-open connections, all at once. The node must stay up and bounded, keep its
 * friend link and control socket working, log every attempt whose address libzmq gives, and close
 * the connections that never authenticate.
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, describe, it } from "node:test";
import * as zmq from "zeromq";
import { writeNetworkFiles } from "../../src/demo/local-network.js";
import { f2bp2p, spawnNode } from "../helpers/cli.js";

const EACH = 20;
const ATTACKER = "127.0.0.2";

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

async function answered(config: string): Promise<Record<string, unknown>> {
  for (;;) {
    const status = await f2bp2p(["-c", config, "status"]);
    if (status.code === 0) return JSON.parse(status.stdout);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A ZeroMQ client with `options`; resolves once its handshake failed or its connection dropped. */
async function zmqAttempt(port: number, options: ConstructorParameters<typeof zmq.Push>[0]): Promise<void> {
  const socket = new zmq.Push({ ...options, linger: 0 });
  const ended = new Promise<void>((resolve) => {
    for (const event of [
      "handshake:error:auth",
      "handshake:error:protocol",
      "handshake:error:other",
      "disconnect",
    ] as const)
      socket.events.on(event, () => resolve());
  });
  socket.connect(`tcp://${ATTACKER}:0;127.0.0.1:${port}`);
  await ended;
  socket.close();
}

/** A raw TCP connection that sends `bytes` (maybe none) and waits for the node to close it. */
function rawAttempt(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: ATTACKER }, () => {
      if (bytes.length > 0) socket.write(bytes);
    });
    socket.on("error", () => undefined);
    socket.resume(); // read (and drop) the node's greeting, so its closing is seen
    socket.on("close", () => resolve());
  });
}

describe("e2e: outsiders against a running node", { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const stop of stops) await stop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("stays up and bounded, logs each attempt with a known address, and keeps serving its friend", async () => {
    const files = await writeNetworkFiles({
      nodes: [{ name: "a", logLevel: "info" }, { name: "b" }],
      links: [["a", "b"]],
    });
    dirs.push(files.dir);
    const configA = files.configs.get("a")!;
    const configB = files.configs.get("b")!;
    const a = spawnNode(configA);
    const b = spawnNode(configB);
    for (const node of [a, b]) {
      stops.push(async () => {
        node.child.kill("SIGTERM");
        await node.exited;
      });
    }
    await answered(configA);
    await answered(configB);
    const port = files.ports.get("a")!;
    const serverKey = /curve_key: "(.*)"/.exec(
      fs.readFileSync(path.join(path.dirname(configB), "friends.d", "a.yaml"), "utf8"),
    )![1]!;
    const rssBefore = rssOf(a.child.pid!);

    const greeting = Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3]); // a ZMTP 3 greeting, cut short
    const attempts: Promise<void>[] = [];
    for (let i = 0; i < EACH; i++) {
      const key = zmq.curveKeyPair();
      attempts.push(
        zmqAttempt(port, {
          curveServerKey: serverKey,
          curvePublicKey: key.publicKey,
          curveSecretKey: key.secretKey,
        }),
        zmqAttempt(port, {}), // NULL
        zmqAttempt(port, { plainUsername: "admin", plainPassword: "admin" }), // PLAIN
        rawAttempt(port, crypto.randomBytes(1024)), // garbage
        rawAttempt(port, Buffer.alloc(0)), // idle: closed by the handshake interval
        rawAttempt(port, greeting), // half-open: closed by the handshake interval
      );
    }
    // Meanwhile the friend delivers and the control socket answers.
    const report = await f2bp2p(["-c", configB, "report", "203.0.113.61", "--jail", "sshd"]);
    assert.equal(report.code, 0, report.stderr);
    await Promise.all(attempts);

    const status = await answered(configA);
    assert.equal((status.friends as { connected: boolean }[])[0]?.connected, true);
    const bans = fs.readFileSync(path.join(path.dirname(configA), "bans.log"), "utf8");
    assert.match(bans, / BAN 203\.0\.113\.61 /);
    const lines = fs
      .readFileSync(path.join(path.dirname(configA), "auth.log"), "utf8")
      .trimEnd()
      .split("\n");
    assert.equal(lines.length, EACH);
    assert.ok(
      lines.every((l) => / AUTH-FAIL 127\.0\.0\.2 reason=unknown-key key=\S{40}$/.test(l)),
      lines.join("\n"),
    );
    assert.equal(a.child.exitCode, null);
    const growth = rssOf(a.child.pid!) - rssBefore;
    assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${growth} bytes`);
  });
});
