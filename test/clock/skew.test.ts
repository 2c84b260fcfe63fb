import assert from "node:assert/strict";
import fs from "node:fs";
import { Writable } from "node:stream";
import { after, describe, it } from "node:test";
import winston from "winston";
import * as zmq from "zeromq";
import {
  type CommandRunner,
  parseAdjtimex,
  parseTimedatectl,
  probeOwnClock,
} from "../../src/clock/own-clock.js";
import { formatOffset } from "../../src/clock/skew.js";
import { loadNode, writeNetworkFiles } from "../../src/demo/local-network.js";
import { statusOf } from "../../src/node/control-handler.js";
import { sealEnvelope } from "../../src/protocol/envelope.js";
import { signReport } from "../../src/protocol/report.js";

/** A logger that keeps each entry as an object, to assert on what an operator reads. */
function capturingLogger(): { log: winston.Logger; entries: Record<string, unknown>[] } {
  const entries: Record<string, unknown>[] = [];
  const stream = new Writable({
    objectMode: true,
    write(info: Record<string, unknown>, _enc, done) {
      entries.push(info);
      done();
    },
  });
  return {
    log: winston.createLogger({ level: "debug", transports: [new winston.transports.Stream({ stream })] }),
    entries,
  };
}

describe("clock skew: reports refused for time are said, per friend, with the offset", async () => {
  const files = await writeNetworkFiles({
    nodes: [{ name: "me" }, { name: "ahead" }],
    links: [["me", "ahead", 100, 100]],
  });
  after(() => fs.rmSync(files.dir, { recursive: true, force: true }));
  const context = new zmq.Context();
  let clock = Date.UTC(2026, 10, 30, 12, 0, 0);
  const { log, entries } = capturingLogger();
  const me = loadNode(files.configs.get("me")!, { context, log, now: () => clock });
  const friendNode = loadNode(files.configs.get("ahead")!, { context });
  const friend = friendNode.identity;
  await me.start();
  // The friend is never started, but its sockets exist: close them so the process can exit.
  after(() => Promise.all([me.stop(), friendNode.stop()]));

  function reportAt(ip: string, time: number): Buffer[] {
    const signed = signReport({ ip, time, origin: friend.signingPublicKey, jail: "sshd" }, friend.signer);
    return sealEnvelope(
      {
        from: friend.signingPublicKey,
        to: me.identity.signingPublicKey,
        entries: [{ id: signed.id, trust: 100, path: [friend.signingPublicKey] }],
      },
      [signed],
      friend.signer,
    );
  }
  const skewLines = () => entries.filter((e) => e.friend === "ahead" && e.level === "info");

  it("a friend 10 minutes ahead: refused from-future, one info line with +10m, shown in status", () => {
    me.handleMessage(reportAt("203.0.113.70", clock + 10 * 60_000));
    assert.equal(me.stats.rejected["from-future"], 1);
    assert.equal(skewLines().length, 1);
    assert.equal(skewLines()[0]!.offset, "+10m 0s");
    assert.equal(skewLines()[0]!.code, "from-future");
    assert.match(String(skewLines()[0]!.message), /ahead of this node's clock/);
    const status = statusOf(me) as { clock: { friends: Record<string, unknown> } };
    assert.deepEqual(status.clock.friends.ahead, {
      refused: { "from-future": 1 },
      lastOffsetMs: 600_000,
      lastCode: "from-future",
      lastAt: clock,
      lastOrigin: friendNode.id,
    });
    assert.equal(skewLines()[0]!.origin, friendNode.id);
    assert.equal(skewLines()[0]!.hops, 1);
  });

  it("rate-limited per friend: more refusals within 10 minutes are counted, not logged", () => {
    for (let i = 0; i < 50; i++) {
      clock += 1000;
      me.handleMessage(reportAt(`203.0.113.${100 + i}`, clock + 10 * 60_000));
    }
    assert.equal(skewLines().length, 1);
    assert.equal(me.clockSkew.status().friends.ahead!.refused["from-future"], 51);
    clock += 10 * 60_000;
    me.handleMessage(reportAt("203.0.113.71", clock + 10 * 60_000 + 5000));
    assert.equal(skewLines().length, 2);
    assert.equal(skewLines()[1]!.offset, "+10m 5s");
  });

  it("our own clock a day ahead: the friend's own reports are refused as expired, and said", () => {
    me.handleMessage(reportAt("198.51.100.70", clock - 25 * 3600_000));
    assert.equal(me.stats.rejected.expired, 1);
    const line = skewLines().find((e) => e.code === "expired");
    assert.equal(line?.offset, "-1d 1h 0m 0s");
    assert.match(String(line?.message), /older than the report lifetime/);
  });

  it("a report within the allowance is accepted and logs nothing about time", () => {
    const before = skewLines().length;
    me.handleMessage(reportAt("198.51.100.71", clock + 4 * 60_000));
    assert.equal(me.ledger.score("198.51.100.71"), 100);
    assert.equal(skewLines().length, before);
  });
});

describe("own clock: synchronised or not, where the system can tell", () => {
  it("reads timedatectl and adjtimex answers", () => {
    assert.equal(parseTimedatectl("yes\n"), "synchronised");
    assert.equal(parseTimedatectl("no\n"), "not-synchronised");
    assert.equal(parseTimedatectl(""), "unknown");
    assert.equal(parseAdjtimex("0 8192\n"), "synchronised"); // TIME_OK, STA_NANO
    assert.equal(parseAdjtimex("5 64\n"), "not-synchronised"); // TIME_ERROR, STA_UNSYNC
    assert.equal(parseAdjtimex("0 64\n"), "not-synchronised");
    assert.equal(parseAdjtimex("-1 0\n"), "unknown");
    assert.equal(parseAdjtimex("garbage"), "unknown");
  });

  it("asks timedatectl first, then the kernel, and says unknown when neither answers", async () => {
    const calls: string[] = [];
    const fail: CommandRunner = async (file) => {
      calls.push(file);
      throw new Error("not here");
    };
    assert.deepEqual(await probeOwnClock(fail), { state: "unknown" });
    assert.deepEqual(calls, ["timedatectl", "/usr/bin/python3"]);
    const noSystemd: CommandRunner = async (file) => {
      if (file === "timedatectl") throw new Error("System has not been booted with systemd");
      return "5 64\n";
    };
    assert.deepEqual(await probeOwnClock(noSystemd), { state: "not-synchronised", source: "adjtimex" });
    assert.deepEqual(await probeOwnClock(async () => "yes\n"), {
      state: "synchronised",
      source: "timedatectl",
    });
  });

  it("formats offsets for the log", () => {
    assert.equal(formatOffset(600_000), "+10m 0s");
    assert.equal(formatOffset(-450), "-450ms");
    assert.equal(formatOffset(-(3600_000 + 62_000)), "-1h 1m 2s");
  });
});
