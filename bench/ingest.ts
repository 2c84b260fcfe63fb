/**
 * One node fed by one friend as fast as it takes them. Envelopes are built in advance exactly as a
 * friend builds them (signReport by many origins, sealEnvelope by the friend), then fed to
 * F2bNode.handleMessage in process, and over a real CURVE ZeroMQ connection from a separate process.
 * Every report is fully verified, decided and stored; half of them cross the threshold and are
 * written to the bans log.
 */
import { fork } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import nacl from "tweetnacl";
import winston from "winston";
import * as zmq from "zeromq";
import { loadFriends, loadNodeConfig } from "../src/config/load.js";
import type { FriendConfig, NodeConfig } from "../src/config/types.js";
import { writeNetworkFiles } from "../src/demo/local-network.js";
import { type Identity, loadIdentity } from "../src/keys/identity.js";
import { F2bNode } from "../src/node/node.js";
import { MAX_ENTRIES } from "../src/protocol/constants.js";
import { type CarriedReport, type Entry, sealEnvelope } from "../src/protocol/envelope.js";
import { signReport } from "../src/protocol/report.js";
import { privateKeyObject } from "../src/protocol/signing.js";
import type { Logger } from "../src/util/logger.js";
import {
  type BenchContext,
  type BenchResult,
  docIp,
  fmt,
  median,
  newResult,
  removeDir,
  stopChild,
  target,
  trackChild,
  trackDir,
} from "./common.js";
import { writeMessages } from "./frames-file.js";
import { ask, expect } from "./ipc.js";
import { bareVerifyRate } from "./signatures.js";

/** A logger that prints nothing and remembers error messages, to notice a listener that gave up. */
function errorCatcher(): { log: Logger; errors: string[] } {
  const errors: string[] = [];
  const stream = new Writable({
    objectMode: true,
    write(info: { message?: unknown }, _encoding, done) {
      errors.push(String(info.message));
      done();
    },
  });
  return {
    log: winston.createLogger({ level: "error", transports: [new winston.transports.Stream({ stream })] }),
    errors,
  };
}

const ORIGINS = 500;
const THRESHOLD = 80;
/** Entry trusts sent by the friend (trusted 100): 100 crosses the threshold of 80, 60 does not. */
const TRUSTS = [100, 60];

interface Setup {
  readonly dir: string;
  readonly sinkConfig: NodeConfig;
  readonly sinkFriends: FriendConfig[];
  readonly sink: Identity;
  readonly friend: Identity;
}

async function setUp(): Promise<Setup> {
  const files = await writeNetworkFiles({
    nodes: [{ name: "sink", threshold: THRESHOLD }, { name: "friend" }],
    links: [["sink", "friend", 100, 100]],
  });
  trackDir(files.dir);
  const sinkConfig = loadNodeConfig(files.configs.get("sink")!);
  const sink = loadIdentity(sinkConfig.keysDir);
  const friend = loadIdentity(loadNodeConfig(files.configs.get("friend")!).keysDir);
  const sinkFriends = loadFriends(sinkConfig.friendsDir, {
    signingKey: sink.signingPublicKey,
    curveKey: sink.curvePublicKey,
  });
  return { dir: files.dir, sinkConfig, sinkFriends, sink, friend };
}

/** `count` reports from ORIGINS distinct origins about distinct IPs, in envelopes of `batch` entries. */
function buildMessages(setup: Setup, count: number, batch: number, firstIp: number): Buffer[][] {
  const origins = Array.from({ length: ORIGINS }, () => {
    const keys = nacl.sign.keyPair();
    return { pub: Buffer.from(keys.publicKey), key: privateKeyObject(keys.secretKey) };
  });
  const now = Date.now();
  const messages: Buffer[][] = [];
  for (let start = 0; start < count; start += batch) {
    const entries: Entry[] = [];
    const reports: CarriedReport[] = [];
    for (let i = start; i < Math.min(count, start + batch); i++) {
      const origin = origins[i % ORIGINS]!;
      const signed = signReport(
        { ip: docIp(firstIp + i), time: now, origin: origin.pub, jail: "sshd" },
        origin.key,
      );
      entries.push({
        id: signed.id,
        trust: TRUSTS[i % TRUSTS.length]!,
        path: [origin.pub, setup.friend.signingPublicKey],
      });
      reports.push({ bytes: signed.bytes, signature: signed.signature });
    }
    messages.push(
      sealEnvelope(
        { from: setup.friend.signingPublicKey, to: setup.sink.signingPublicKey, entries },
        reports,
        setup.friend.signer,
      ),
    );
  }
  return messages;
}

/** A node with an empty ledger, bans log and journal of its own, listening on a free loopback port. */
function freshSink(setup: Setup, tag: string, context: zmq.Context, log: Logger): F2bNode {
  const config: NodeConfig = {
    ...setup.sinkConfig,
    listen: "tcp://127.0.0.1:0",
    bansLog: path.join(setup.dir, "sink", `bans-${tag}.log`),
    stateDir: path.join(setup.dir, "sink", `state-${tag}`),
  };
  return new F2bNode(config, setup.sinkFriends, setup.sink, { context, log, now: Date.now });
}

function checkOutcome(node: F2bNode, count: number, what: string): void {
  const bansExpected = Math.ceil(count / TRUSTS.length);
  const rejected = Object.values(node.stats.rejected).reduce((a, b) => a + (b ?? 0), 0);
  if (node.stats.accepted !== count || node.stats.bans !== bansExpected || rejected !== 0) {
    throw new Error(
      `${what}: accepted ${node.stats.accepted}/${count}, bans ${node.stats.bans}/${bansExpected}, rejected ${JSON.stringify(node.stats.rejected)}`,
    );
  }
}

/** Reports per second of handleMessage in this process, fresh node (empty ledger) each run. */
async function inProcess(
  setup: Setup,
  messages: Buffer[][],
  count: number,
  runs: number,
  tag: string,
): Promise<number[]> {
  const rates: number[] = [];
  for (let run = -1; run < runs; run++) {
    // A context per node: a context whose last node stopped cannot bind its ZAP handler again at once.
    const node = freshSink(setup, `${tag}-${run}`, new zmq.Context(), errorCatcher().log);
    try {
      await node.start();
      const todo = run < 0 ? messages.slice(0, Math.ceil(messages.length / 5)) : messages;
      const start = performance.now();
      // One turn of the event loop per message, so each message pays its own store commit (the
      // node commits once per turn): the worst case; over ZeroMQ several may share a commit.
      for (const frames of todo) {
        node.handleMessage(frames);
        await new Promise(setImmediate);
      }
      const ms = performance.now() - start;
      if (run >= 0) {
        checkOutcome(node, count, `in-process ${tag}`);
        rates.push((count / ms) * 1000);
      }
    } finally {
      await node.stop();
    }
  }
  return rates;
}

/** Reports per second through a CURVE PUSH socket in another process to a started node's listener. */
async function overZmq(
  setup: Setup,
  sender: ReturnType<typeof fork>,
  set: number,
  count: number,
  runs: number,
  tag: string,
): Promise<{ rates: number[]; sendMs: number[] }> {
  const rates: number[] = [];
  const sendMs: number[] = [];
  for (let run = 0; run < runs; run++) {
    const caught = errorCatcher();
    const node = freshSink(setup, `zmq-${tag}-${run}`, new zmq.Context(), caught.log);
    try {
      await node.start();
      await ask(
        sender,
        {
          op: "connect",
          endpoint: node.endpoint,
          serverKey: setup.sink.curvePublicKey,
          publicKey: setup.friend.curvePublicKey,
          secretKey: setup.friend.curveSecretKey,
        },
        "ready",
        15_000,
      );
      let accepted = 0;
      const done = new Promise<number>((resolve, reject) => {
        const watchdog = setInterval(() => {
          if (caught.errors.length === 0) return;
          clearInterval(watchdog);
          clearTimeout(timer);
          reject(
            new Error(`zmq ${tag}: the node logged '${caught.errors[0]}' after ${accepted}/${count} reports`),
          );
        }, 50);
        const timer = setTimeout(() => {
          clearInterval(watchdog);
          reject(
            new Error(
              `zmq ${tag}: only ${accepted}/${count} in 60 s; node stats ${JSON.stringify(node.stats)}`,
            ),
          );
        }, 60_000);
        node.on("report:accepted", () => {
          if (++accepted === count) {
            clearTimeout(timer);
            clearInterval(watchdog);
            resolve(performance.now());
          }
        });
      });
      const sent = expect(sender, "sent", 120_000);
      const start = performance.now();
      sender.send({ op: "go", set });
      const end = await done;
      sendMs.push(Number((await sent).ms));
      checkOutcome(node, count, `zmq ${tag}`);
      rates.push((count / (end - start)) * 1000);
    } finally {
      await node.stop();
    }
  }
  return { rates, sendMs };
}

export async function ingest(ctx: BenchContext): Promise<BenchResult> {
  const result = newResult("ingest", "one node fed by one friend: reports/s, fully verified");
  const count = ctx.quick ? 1024 : 10_240;
  const runs = 5;
  const verifyMs = ctx.quick ? 60 : 300;
  const setup = await setUp();
  const sender = trackChild(fork(new URL("./ingest-sender.js", import.meta.url), [], { stdio: "inherit" }));
  try {
    await expect(sender, "started", 15_000);
    ctx.progress("bare node:crypto verify (before)");
    const verifyBefore = bareVerifyRate(runs, verifyMs);
    const rows: (string | number)[][] = [];
    const data: Record<string, unknown> = {};
    const modes: { batch: number; messages: Buffer[][] }[] = [];
    for (const batch of [1, MAX_ENTRIES]) {
      ctx.progress(`building ${count} signed reports in envelopes of ${batch}`);
      modes.push({ batch, messages: buildMessages(setup, count, batch, batch === 1 ? 0 : count) });
    }
    const measured: { batch: number; how: string; rates: number[]; extra?: number[] }[] = [];
    for (const { batch, messages } of modes) {
      ctx.progress(`in process, batch ${batch}`);
      measured.push({
        batch,
        how: "in process",
        rates: await inProcess(setup, messages, count, runs, `b${batch}`),
      });
      const file = path.join(setup.dir, `messages-${batch}.bin`);
      writeMessages(file, messages);
      const { set } = await ask<{ op: string; set: number }>(sender, { op: "load", file }, "loaded", 30_000);
      ctx.progress(`over ZeroMQ, batch ${batch}`);
      const zmqRun = await overZmq(setup, sender, set, count, runs, `b${batch}`);
      measured.push({ batch, how: "ZeroMQ CURVE", rates: zmqRun.rates, extra: zmqRun.sendMs });
      fs.rmSync(file, { force: true });
    }
    ctx.progress("bare node:crypto verify (after)");
    const verifyAfter = bareVerifyRate(runs, verifyMs);
    const bare = median([verifyBefore, verifyAfter]);

    for (const m of measured) {
      const rate = median(m.rates);
      const verifiesPerReport = (m.batch + 1) / m.batch;
      rows.push([
        `${m.how}, ${m.batch === 1 ? "1 entry" : `${m.batch} entries`}/envelope`,
        fmt(rate),
        fmt(Math.min(...m.rates)),
        fmt(Math.max(...m.rates)),
        fmt(rate / bare, 2),
        fmt(1 / verifiesPerReport, 2),
        `${rate >= 5000 ? "✓" : "✗"} / ${rate / bare >= 0.5 ? "✓" : "✗"}`,
      ]);
      data[`${m.how === "in process" ? "inProcess" : "zmq"}Batch${m.batch}`] = {
        reportsPerSec: rate,
        runs: m.rates,
        fractionOfBareVerify: rate / bare,
        verifyBoundCeiling: 1 / verifiesPerReport,
        ...(m.extra ? { senderMs: m.extra } : {}),
      };
    }
    result.tables.push({
      title: `reports/s, median of ${runs} runs of ${count} reports (${ORIGINS} origins, distinct IPs, half over threshold → bans log)`,
      columns: ["path", "median", "min", "max", "÷ bare verify", "verify-bound ceiling", "≥5k/s / ≥0.5"],
      rows,
      note: [
        `bare node:crypto verify in this run: ${fmt(bare)}/s (before ${fmt(verifyBefore)}, after ${fmt(verifyAfter)}); ceiling = 1 ÷ signatures verified per report (envelope + report)`,
        "in process = handleMessage called directly on a started node, one event-loop turn (one store commit) per message, bans log written; ZeroMQ = a friend process pushing over CURVE to the node's listener",
      ].join("\n  "),
    });
    Object.assign(result.data, data, { reports: count, runs, origins: ORIGINS, bareVerifyPerSec: bare });
    const best = (how: string): number =>
      median(measured.find((m) => m.how === how && m.batch === MAX_ENTRIES)!.rates);
    const single = (how: string): number =>
      median(measured.find((m) => m.how === how && m.batch === 1)!.rates);
    for (const how of ["in process", "ZeroMQ CURVE"]) {
      result.targets.push(
        target(`${how}, batch 64: reports/s`, "≥ 5,000/s", fmt(best(how)), best(how) >= 5000),
        target(`${how}, batch 64: ÷ bare verify`, "≥ 0.5", fmt(best(how) / bare, 2), best(how) / bare >= 0.5),
        target(`${how}, batch 1: reports/s`, "≥ 5,000/s", fmt(single(how)), single(how) >= 5000),
        target(
          `${how}, batch 1: ÷ bare verify`,
          "≥ 0.5",
          fmt(single(how) / bare, 2),
          single(how) / bare >= 0.5,
        ),
      );
    }
    return result;
  } finally {
    sender.connected && sender.send({ op: "exit" });
    await stopChild(sender);
    removeDir(setup.dir);
  }
}
