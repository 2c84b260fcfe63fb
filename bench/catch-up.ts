/**
 * Catch-up sync: node B was down while its friend A took in N reports (15,000: the size of
 * CrowdSec's community blocklist). How long after B's link to A connects does B hold all N, against
 * the time B's CPU needs just to verify N signatures (the bound), and how long does a third friend's
 * live report wait at B meanwhile, against the same trickle with no catch-up running?
 *
 * A is a real `f2bp2p run` process whose store was filled with N reports it signed, started just
 * before B's link connects (so it checks each stored report's signature before it leaves); B runs in
 * this process (so its events give exact times); the live friend is a child process pushing one
 * report every 20 ms over CURVE (ingest-sender.ts). Then a second friend of A that was down too (C,
 * in this process) catches up from the same, now running A: the case of a friend that took
 * the reports in while running, whose signatures it has therefore checked once already.
 */
import { fork } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { type EventLoopUtilization, performance as perfHooks } from "node:perf_hooks";
import * as zmq from "zeromq";
import { loadFriends, loadNodeConfig } from "../src/config/load.js";
import { writeNetworkFiles } from "../src/demo/local-network.js";
import { type Identity, loadIdentity } from "../src/keys/identity.js";
import { F2bNode } from "../src/node/node.js";
import { REPORT_SIGNING_TAG } from "../src/protocol/constants.js";
import { sealEnvelope } from "../src/protocol/envelope.js";
import { type SignedReport, signReport } from "../src/protocol/report.js";
import { verifyTagged } from "../src/protocol/signing.js";
import { Ledger } from "../src/state/ledger.js";
import { SqliteStore } from "../src/state/sqlite-store.js";
import { OWN_TRUST, VIA_SELF } from "../src/trust/rules.js";
import { createLogger, silentLogger } from "../src/util/logger.js";
import {
  type BenchContext,
  type BenchResult,
  docIp,
  fmt,
  median,
  newResult,
  percentile,
  removeDir,
  stopChild,
  target,
  trackChild,
  trackDir,
  waitUntil,
  wallMs,
} from "./common.js";
import { writeMessages } from "./frames-file.js";
import { ask, expect } from "./ipc.js";
import { spawnNode } from "./processes.js";

const TRICKLE_MS = 20;

/** Fills a stopped node's store with `count` reports it signed itself, as `report` would have. */
function fillOwnReports(stateDir: string, identity: Identity, count: number): SignedReport[] {
  fs.mkdirSync(stateDir, { recursive: true });
  const store = new SqliteStore(stateDir);
  const signed: SignedReport[] = [];
  try {
    const ledger = new Ledger(store, {
      lifetimeMs: 86_400_000,
      threshold: 80,
      trustOfVia: () => 0,
      maxReportsPerFriend: 250_000,
    });
    const now = Date.now();
    store.transaction(() => {
      for (let i = 0; i < count; i++) {
        const s = signReport(
          { ip: docIp(i), time: now, origin: identity.signingPublicKey, jail: "sshd" },
          identity.signer,
        );
        ledger.apply({ signed: s, trust: OWN_TRUST, via: VIA_SELF, path: [], at: now });
        signed.push(s);
      }
    });
  } finally {
    store.close();
  }
  return signed;
}

/** Wall time (ms) this process needs to verify every report's signature once: the bound. */
function verifyAll(signed: readonly SignedReport[]): number {
  const t0 = performance.now();
  for (const s of signed) {
    if (!verifyTagged(REPORT_SIGNING_TAG, s.bytes, s.signature, s.report.origin))
      throw new Error("bad signature");
  }
  return performance.now() - t0;
}

function liveMessages(from: Identity, to: Identity, count: number, firstIp: number): Buffer[][] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const signed = signReport(
      { ip: docIp(firstIp + i), time: now, origin: from.signingPublicKey, jail: "sshd" },
      from.signer,
    );
    return sealEnvelope(
      {
        from: from.signingPublicKey,
        to: to.signingPublicKey,
        entries: [{ id: signed.id, trust: 100, path: [from.signingPublicKey] }],
      },
      [signed],
      from.signer,
    );
  });
}

/** A node in this process (its events give exact times), on its own ZeroMQ context. */
function inProcessNode(configFile: string, identity: Identity): F2bNode {
  const config = loadNodeConfig(configFile);
  const friends = loadFriends(config.friendsDir, {
    signingKey: identity.signingPublicKey,
    curveKey: identity.curvePublicKey,
  });
  return new F2bNode(config, friends, identity, {
    context: new zmq.Context(),
    log: process.env.BENCH_DEBUG ? createLogger("debug", config.name) : silentLogger(),
    now: Date.now,
  });
}

export async function catchUp(ctx: BenchContext): Promise<BenchResult> {
  const result = newResult("catch-up", "a friend that was down catches up");
  const count = ctx.quick ? 2_000 : 15_000;
  const liveCount = ctx.quick ? 50 : 150;
  const files = await writeNetworkFiles({
    nodes: [{ name: "a" }, { name: "b" }, { name: "c" }, { name: "live" }],
    links: [
      ["b", "a", 100, 100],
      ["c", "a", 100, 100],
      ["b", "live", 100, 100],
    ],
  });
  trackDir(files.dir);
  const id = (name: string): Identity => loadIdentity(loadNodeConfig(files.configs.get(name)!).keysDir);
  const [a, b, live] = [id("a"), id("b"), id("live")];
  const sender = trackChild(fork(new URL("./ingest-sender.js", import.meta.url), [], { stdio: "inherit" }));
  const aConfig = loadNodeConfig(files.configs.get("a")!);
  let aProcess: ReturnType<typeof spawnNode> | undefined;
  let node: F2bNode | undefined;
  let second: F2bNode | undefined;
  try {
    await expect(sender, "started", 15_000);
    ctx.progress(`filling A's store with ${count} reports it signed`);
    const signed = fillOwnReports(aConfig.stateDir, a, count);
    const verifyMs = verifyAll(signed);

    const firstLiveIp = count;
    const duringFile = path.join(files.dir, "live-during.bin");
    const quietFile = path.join(files.dir, "live-quiet.bin");
    writeMessages(duringFile, liveMessages(live, b, liveCount, firstLiveIp));
    writeMessages(quietFile, liveMessages(live, b, liveCount, firstLiveIp + liveCount));
    const duringSet = (
      await ask<{ op: string; set: number }>(sender, { op: "load", file: duringFile }, "loaded", 60_000)
    ).set;
    const quietSet = (
      await ask<{ op: string; set: number }>(sender, { op: "load", file: quietFile }, "loaded", 60_000)
    ).set;

    node = inProcessNode(files.configs.get("b")!, b);
    const liveIps = new Map<string, number>();
    for (let i = 0; i < 2 * liveCount; i++) liveIps.set(docIp(firstLiveIp + i), i);
    const liveAcceptedAt: number[] = [];
    let fromA = 0;
    let doneAt = Number.NaN;
    node.on("report:accepted", ({ ip }) => {
      const i = liveIps.get(ip);
      if (i !== undefined) liveAcceptedAt[i] = wallMs();
      else if (++fromA === count) doneAt = wallMs();
    });
    await node.start();
    const linkToA = node.friends.find((f) => f.config.name === "a")!.link;
    await ask(
      sender,
      {
        op: "connect",
        endpoint: node.endpoint,
        serverKey: b.curvePublicKey,
        publicKey: live.curvePublicKey,
        secretKey: live.curveSecretKey,
      },
      "ready",
      15_000,
    );

    // A starts with B up: B's link to A connects, B asks, A answers from its log.
    ctx.progress(`starting A; B catches up ${count} reports while a friend trickles live ones`);
    let connectedAt = Number.NaN;
    linkToA.on("state", (state) => {
      if (state === "connected" && Number.isNaN(connectedAt)) connectedAt = wallMs();
    });
    const trickled = expect(sender, "trickled", 300_000);
    sender.send({ op: "trickle", set: duringSet, intervalMs: TRICKLE_MS });
    aProcess = spawnNode("a", files.configs.get("a")!, aConfig.controlSocket);
    let cpuAtConnect: { b: NodeJS.CpuUsage; a: number } | undefined;
    const aCpuMs = (): number => {
      // utime + stime of A, in clock ticks (100 per second on Linux).
      const fields = fs.readFileSync(`/proc/${aProcess!.child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return (Number(fields[11]) + Number(fields[12])) * 10;
    };
    linkToA.on("state", (state) => {
      if (state === "connected" && cpuAtConnect === undefined)
        cpuAtConnect = { b: process.cpuUsage(), a: aCpuMs() };
    });
    await waitUntil("B to hold every report of A", () => fromA >= count, 120_000);
    const bCpuMs =
      cpuAtConnect === undefined
        ? Number.NaN
        : process.cpuUsage(cpuAtConnect.b).user / 1000 + process.cpuUsage(cpuAtConnect.b).system / 1000;
    const aCpu = cpuAtConnect === undefined ? Number.NaN : aCpuMs() - cpuAtConnect.a;
    const { times: duringTimes } = (await trickled) as unknown as { times: number[] };
    const catchUpMs = doneAt - connectedAt;

    // The same trickle with nothing else going on: the baseline of the live delay.
    const quietDone = expect(sender, "trickled", 300_000);
    sender.send({ op: "trickle", set: quietSet, intervalMs: TRICKLE_MS });
    const { times: quietTimes } = (await quietDone) as unknown as { times: number[] };
    await waitUntil(
      "the quiet trickle to arrive",
      () => liveAcceptedAt.filter(Boolean).length >= 2 * liveCount,
      30_000,
    );

    // A second friend that was down too (C) catches up from the same A, which has now checked
    // every stored report once, as a node that took them in while running has.
    ctx.progress(`starting C; it catches up the same ${count} reports from A`);
    second = inProcessNode(files.configs.get("c")!, id("c"));
    let fromAtC = 0;
    let secondDoneAt = Number.NaN;
    second.on("report:accepted", () => {
      if (++fromAtC === count) secondDoneAt = wallMs();
    });
    const secondLink = second.friends.find((f) => f.config.name === "a")!.link;
    let secondConnectedAt = Number.NaN;
    let secondCpuAtConnect: { c: NodeJS.CpuUsage; a: number; elu: EventLoopUtilization } | undefined;
    secondLink.on("state", (state) => {
      if (state !== "connected" || secondCpuAtConnect !== undefined) return;
      secondConnectedAt = wallMs();
      secondCpuAtConnect = { c: process.cpuUsage(), a: aCpuMs(), elu: perfHooks.eventLoopUtilization() };
    });
    await second.start();
    await waitUntil("C to hold every report of A", () => fromAtC >= count, 120_000);
    const secondMs = secondDoneAt - secondConnectedAt;
    const cBusy = perfHooks.eventLoopUtilization(secondCpuAtConnect!.elu).utilization;
    const cCpu = process.cpuUsage(secondCpuAtConnect!.c);
    const cCpuMs = (cCpu.user + cCpu.system) / 1000;
    const aCpuForC = aCpuMs() - secondCpuAtConnect!.a;

    const delays = (times: number[], offset: number): number[] =>
      times.map((t, i) => liveAcceptedAt[offset + i]! - t);
    const all = delays(duringTimes, 0);
    // Only the live reports sent while the catch-up ran.
    const during = all.filter((_, i) => duringTimes[i]! >= connectedAt && duringTimes[i]! <= doneAt);
    const quiet = delays(quietTimes, liveCount);
    const rate = count / (catchUpMs / 1000);
    result.tables.push({
      title: `B, then C, catch up ${count} reports from A (A a real f2bp2p run; B and C in-process)`,
      columns: ["measure", "value"],
      rows: [
        [
          "A just restarted (checks each stored report before it leaves): B's link to A connected → last report taken in",
          `${fmt(catchUpMs)} ms`,
        ],
        ["reports taken in per second", fmt(rate)],
        [
          `bare signature checks of the same ${count} reports (this process, node:crypto)`,
          `${fmt(verifyMs)} ms`,
        ],
        ["catch-up time / bare verify time", `${fmt(catchUpMs / verifyMs, 2)}×`],
        [
          "CPU meanwhile: B (taking in) / A (answering, re-checking each stored report)",
          `${fmt(bCpuMs)} / ${fmt(aCpu)} ms`,
        ],
        [
          "A running (has checked these reports once): C's link to A connected → last report taken in",
          `${fmt(secondMs)} ms`,
        ],
        ["C's catch-up time / bare verify time", `${fmt(secondMs / verifyMs, 2)}×`],
        ["CPU meanwhile: C (taking in) / A (answering)", `${fmt(cCpuMs)} / ${fmt(aCpuForC)} ms`],
        ["C's main thread busy meanwhile (event loop utilization)", `${fmt(cBusy * 100)} %`],
        ["live reports sent while B's catch-up ran", String(during.length)],
        [
          "live hop delay at B during its catch-up: median / p95 / max",
          `${fmt(median(during), 2)} / ${fmt(percentile(during, 95), 2)} / ${fmt(Math.max(...during), 2)} ms`,
        ],
        [
          "live hop delay, nothing else running: median / p95",
          `${fmt(median(quiet), 2)} / ${fmt(percentile(quiet, 95), 2)} ms`,
        ],
      ],
    });
    if (!ctx.quick) {
      result.targets.push(
        target(
          "15,000 reports after reconnecting to a running friend",
          "≤ 3 s",
          `${fmt(secondMs / 1000, 2)} s`,
          secondMs <= 3000,
        ),
      );
    }
    if (during.length > 0) {
      result.targets.push(
        target(
          "live hop median while a catch-up runs",
          "< 2 ms",
          `${fmt(median(during), 2)} ms`,
          median(during) < 2,
        ),
      );
    }
    Object.assign(result.data, { count, catchUpMs, secondMs, verifyMs, during, quiet });
    return result;
  } finally {
    await second?.stop();
    await node?.stop();
    if (aProcess !== undefined) await stopChild(aProcess.child);
    sender.send({ op: "exit" });
    await stopChild(sender);
    removeDir(files.dir);
  }
}
