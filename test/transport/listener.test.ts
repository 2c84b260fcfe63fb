import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import * as zmq from "zeromq";
import { generateIdentity } from "../../src/keys/identity.js";
import { MAX_FRAME_BYTES } from "../../src/protocol/constants.js";
import { MAX_WIRE_FRAME_BYTES, RECEIVE_TURN_MS, unmapEndpoint } from "../../src/transport/listener.js";
import { REPO_ROOT } from "../helpers/fail2ban.js";
import { freePorts, TestListener } from "./helpers.js";

/** A CURVE PUSH socket with a fresh key the listener admits (not yet connected). */
function admittedPush(context: zmq.Context, server: TestListener): zmq.Push {
  const client = generateIdentity();
  server.admitted.add(client.curvePublicKey);
  return new zmq.Push({
    context,
    curveServerKey: server.identity.curvePublicKey,
    curvePublicKey: client.curvePublicKey,
    curveSecretKey: client.curveSecretKey,
    linger: 0,
  });
}

describe("the listener's frame limit", { timeout: 60_000 }, () => {
  const context = new zmq.Context();
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("is the one docs/protocol.md gives in section 2.1", () => {
    const spec = fs.readFileSync(path.join(REPO_ROOT, "docs", "protocol.md"), "utf8");
    const row = /^\| `ZMQ_MAXMSGSIZE`\s*\| (\d+) /m.exec(spec);
    assert.equal(Number(row?.[1]), MAX_WIRE_FRAME_BYTES);
  });

  it("delivers a frame of MAX_FRAME_BYTES under CURVE, and drops the connection that sends a larger one", async () => {
    const [port] = await freePorts(1);
    const endpoint = `tcp://127.0.0.1:${port}`;
    const server = new TestListener(context, endpoint);
    await server.listener.start();
    cleanups.push(() => server.listener.stop());
    // Bound on the dual-stack socket, an IPv4 endpoint reads back as written, not as ::ffff:.
    assert.equal(server.listener.endpoint, endpoint);
    const push = admittedPush(context, server);
    cleanups.push(() => push.close());
    const handshake = new Promise<void>((resolve) => push.events.on("handshake", () => resolve()));
    push.connect(endpoint);
    await handshake;
    await push.send([Buffer.alloc(MAX_FRAME_BYTES, 1), Buffer.alloc(64)]);
    await server.messages(1);
    assert.equal(server.received[0]?.[0]?.length, MAX_FRAME_BYTES);
    const dropped = new Promise<void>((resolve) => push.events.on("disconnect", () => resolve()));
    await push.send([Buffer.alloc(MAX_WIRE_FRAME_BYTES + 1, 2), Buffer.alloc(64)]);
    await dropped;
    assert.equal(server.received.length, 1);
  });
});

describe("the listener's receive loop", { timeout: 60_000 }, () => {
  const context = new zmq.Context();
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("lets the rest of the event loop run while messages keep waiting (commits, timers, the control socket)", async () => {
    const [port] = await freePorts(1);
    const endpoint = `tcp://127.0.0.1:${port}`;
    const total = 300;
    let turnsTakenAt: number | undefined;
    let handled = 0;
    let allHandled: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      allHandled = resolve;
    });
    const server = new TestListener(context, endpoint, undefined, undefined, () => {
      // The first message schedules other work; each message keeps the loop busy for a while.
      if (handled++ === 0) setImmediate(() => (turnsTakenAt = handled));
      const until = performance.now() + RECEIVE_TURN_MS / 2;
      while (performance.now() < until);
      if (handled === total) allHandled();
    });
    const push = admittedPush(context, server);
    cleanups.push(() => push.close());
    push.connect(endpoint);
    // Everything is queued at the sender before the listener starts taking messages in.
    for (let i = 0; i < total; i++) await push.send([Buffer.from(`message ${i}`), Buffer.alloc(64)]);
    await server.listener.start();
    cleanups.push(() => server.listener.stop());
    await done;
    // Without the turns, other work waited until the socket had nothing left to read.
    assert.ok(
      turnsTakenAt !== undefined && turnsTakenAt < 10,
      `other work ran after ${turnsTakenAt} messages`,
    );
  });
});

describe("unmapEndpoint", () => {
  it("shows an IPv4-mapped bound address as IPv4, and leaves every other endpoint alone", () => {
    assert.equal(unmapEndpoint("tcp://[::ffff:127.0.0.1]:7711"), "tcp://127.0.0.1:7711");
    assert.equal(unmapEndpoint("tcp://[::ffff:7f00:1]:7711"), "tcp://[::ffff:7f00:1]:7711");
    assert.equal(unmapEndpoint("tcp://[::1]:7711"), "tcp://[::1]:7711");
    assert.equal(unmapEndpoint("tcp://[2001:db8::ffff:1.2.3.4]:7711"), "tcp://[2001:db8::ffff:1.2.3.4]:7711");
    assert.equal(unmapEndpoint("tcp://0.0.0.0:7711"), "tcp://0.0.0.0:7711");
  });
});
