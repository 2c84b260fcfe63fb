import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, describe, it } from "node:test";
import * as zmq from "zeromq";
import { enqueueReport, freePorts, linkState, linkTo, TestListener } from "./helpers.js";

/** A friend link over real CURVE sockets on loopback, through every failure the issue names. */
describe("a friend link recovers by itself", { timeout: 60_000 }, () => {
  const context = new zmq.Context();
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function listen(endpoint: string, identity?: TestListener["identity"]): Promise<TestListener> {
    const server = new TestListener(context, endpoint, identity);
    await server.listener.start();
    cleanups.push(() => server.listener.stop());
    return server;
  }

  it("after the friend refused our key, once it lists us: says why, then connects and delivers", async () => {
    const [port] = await freePorts(1);
    const endpoint = `tcp://127.0.0.1:${port}`;
    const server = await listen(endpoint);
    const { link, self } = linkTo(context, endpoint, server.identity);
    cleanups.push(() => link.close());
    enqueueReport(link, self, "203.0.113.1");
    link.start();
    await linkState(link, "refused");
    assert.equal(link.connected, false);
    assert.ok(server.denied.some((d) => d.key === self.curvePublicKey && d.address === "127.0.0.1"));
    // The friend adds us (here without a restart; a restart looks the same from our side).
    server.admitted.add(self.curvePublicKey);
    await linkState(link, "connected");
    await server.messages(1);
    assert.deepEqual(server.ips(), ["203.0.113.1"]);
  });

  it("after random bytes from whatever held the friend's port: handshake-failed, then delivers", async () => {
    const [port] = await freePorts(1);
    const endpoint = `tcp://127.0.0.1:${port}`;
    const connections = new Set<net.Socket>();
    const garbage = net.createServer((socket) => {
      connections.add(socket);
      socket.on("error", () => socket.destroy()); // the link resets the connection
      socket.end(Buffer.from("\x16\x03\x01 not ZMTP at all, random bytes"));
    });
    garbage.listen(port, "127.0.0.1");
    await once(garbage, "listening");
    const server = new TestListener(context, endpoint);
    const { link, self } = linkTo(context, endpoint, server.identity);
    cleanups.push(() => link.close());
    server.admitted.add(self.curvePublicKey);
    enqueueReport(link, self, "203.0.113.2");
    link.start();
    await linkState(link, "handshake-failed");
    const closed = new Promise((resolve) => garbage.close(resolve));
    for (const socket of connections) socket.destroy();
    await closed;
    await server.listener.start();
    cleanups.push(() => server.listener.stop());
    await linkState(link, "connected");
    await server.messages(1);
    assert.deepEqual(server.ips(), ["203.0.113.2"]);
  });

  it("while the friend is down: unreachable, then delivers when it is up, and again after it restarts", async () => {
    const [port] = await freePorts(1);
    const endpoint = `tcp://127.0.0.1:${port}`;
    const first = new TestListener(context, endpoint);
    const { link, self } = linkTo(context, endpoint, first.identity);
    cleanups.push(() => link.close());
    first.admitted.add(self.curvePublicKey);
    link.start();
    await linkState(link, "unreachable");
    await first.listener.start();
    await linkState(link, "connected");
    enqueueReport(link, self, "203.0.113.3");
    await first.messages(1);
    await first.listener.stop();
    await linkState(link, "disconnected");
    const second = new TestListener(context, endpoint, first.identity);
    second.admitted.add(self.curvePublicKey);
    enqueueReport(link, self, "203.0.113.4");
    await second.listener.start();
    cleanups.push(() => second.listener.stop());
    await linkState(link, "connected");
    await second.messages(1);
    assert.deepEqual(second.ips(), ["203.0.113.4"]);
  });

  it("dials at once a friend heard from while libzmq waits out its reconnect backoff", async () => {
    const [port] = await freePorts(1);
    const endpoint = `tcp://127.0.0.1:${port}`;
    const friend = new TestListener(context, endpoint);
    // libzmq would dial again only after a minute: longer than this test may take.
    const { link, self } = linkTo(context, endpoint, friend.identity, undefined, 60_000);
    cleanups.push(() => link.close());
    friend.admitted.add(self.curvePublicKey);
    link.start();
    await linkState(link, "unreachable");
    await friend.listener.start();
    cleanups.push(() => friend.listener.stop());
    link.heardFrom();
    await linkState(link, "connected");
    enqueueReport(link, self, "203.0.113.5");
    await friend.messages(1);
    assert.deepEqual(friend.ips(), ["203.0.113.5"]);
  });
});
