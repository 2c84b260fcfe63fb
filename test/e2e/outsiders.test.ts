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
import { waitFor } from "../helpers/wait.js";

const EACH = 20;
/** One source address per kind of attempt, so each kind's lines can be counted on their own. */
const FROM = {
  unknownKey: "127.0.0.2",
  nullGreeting: "127.0.0.3",
  plainGreeting: "127.0.0.4",
  garbage: "127.0.0.5",
  idle: "127.0.0.6",
  halfOpen: "127.0.0.7",
  zmqClients: "127.0.0.8",
} as const;

/** A ZMTP 3.0 greeting (RFC 23) offering `mechanism`: 64 bytes, as a client sends it. */
function greeting(mechanism: string): Buffer {
  const bytes = Buffer.alloc(64);
  bytes[0] = 0xff;
  bytes[9] = 0x7f;
  bytes[10] = 3;
  bytes.write(mechanism, 12, "ascii");
  return bytes;
}

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

async function answered(config: string): Promise<Record<string, unknown>> {
  for (;;) {
    const status = await f2bp2p(["-c", config, "status", "--json"]);
    if (status.code === 0) return JSON.parse(status.stdout);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A ZeroMQ client with `options`; resolves once its handshake failed or its connection dropped. */
async function zmqAttempt(
  source: string,
  port: number,
  options: ConstructorParameters<typeof zmq.Push>[0],
): Promise<void> {
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
  socket.connect(`tcp://${source}:0;127.0.0.1:${port}`);
  await ended;
  socket.close();
}

/** A raw TCP connection that sends `bytes` (maybe none) and waits for the node to close it. */
function rawAttempt(source: string, port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: source }, () => {
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

    const attempts: Promise<void>[] = [];
    for (let i = 0; i < EACH; i++) {
      const key = zmq.curveKeyPair();
      attempts.push(
        zmqAttempt(FROM.unknownKey, port, {
          curveServerKey: serverKey,
          curvePublicKey: key.publicKey,
          curveSecretKey: key.secretKey,
        }),
        rawAttempt(FROM.nullGreeting, port, greeting("NULL")),
        rawAttempt(FROM.plainGreeting, port, greeting("PLAIN")),
        rawAttempt(FROM.garbage, port, crypto.randomBytes(1024)),
        rawAttempt(FROM.idle, port, Buffer.alloc(0)), // closed by the handshake interval
        rawAttempt(FROM.halfOpen, port, greeting("CURVE").subarray(0, 11)), // likewise
        // Real NULL and PLAIN clients: libzmq may dial again before the test closes them, and whether
        // the node or the client closes first is a race, so their lines are not counted.
        zmqAttempt(FROM.zmqClients, port, {}),
        zmqAttempt(FROM.zmqClients, port, { plainUsername: "admin", plainPassword: "admin" }),
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
    // One line per attempt: unknown keys from the ZAP handler, the others from the kernel's table
    // (the node looks there when libzmq says a connection ended, and again 250 ms later).
    const authLog = path.join(path.dirname(configA), "auth.log");
    const count = (from: string, reason: string): number =>
      fs
        .readFileSync(authLog, "utf8")
        .split("\n")
        .filter((l) => l.includes(` AUTH-FAIL ${from} reason=${reason}`)).length;
    // Garbage is not among them: libzmq closes that connection with unread bytes, so the kernel
    // resets it and keeps no trace of it (docs/security.md).
    const kinds = [FROM.nullGreeting, FROM.plainGreeting, FROM.idle, FROM.halfOpen];
    await waitFor(
      () => kinds.every((from) => count(from, "handshake-failed") >= EACH),
      10_000,
      `${EACH} handshake-failed lines for each kind of attempt`,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}: ${kinds.map((k) => `${k}=${count(k, "handshake-failed")}`).join(" ")}`,
      );
    });
    for (const from of kinds)
      assert.equal(count(from, "handshake-failed"), EACH, fs.readFileSync(authLog, "utf8"));
    assert.equal(count(FROM.unknownKey, "unknown-key"), EACH);
    assert.equal(count(FROM.unknownKey, "handshake-failed"), 0, "a refusal by ZAP is one line, not two");
    assert.ok(count(FROM.garbage, "handshake-failed") <= EACH);
    assert.equal(a.child.exitCode, null);
    const growth = rssOf(a.child.pid!) - rssBefore;
    assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${growth} bytes`);
  });
});
