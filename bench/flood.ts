/**
 * One friend floods a node with valid messages while another friend sends one report every 50 ms:
 * how long does the quiet friend's report wait, and how much memory does the node take? Run with
 * the per-friend rate limit as shipped (defaults) and with it lifted, to show what it buys.
 * The node runs in this process (its RSS is this process's); both friends are child processes
 * pushing over CURVE, as ingest-sender.ts does.
 */
import { fork } from "node:child_process";
import path from "node:path";
import * as zmq from "zeromq";
import { loadFriends, loadNodeConfig } from "../src/config/load.js";
import type { NodeConfig } from "../src/config/types.js";
import { writeNetworkFiles } from "../src/demo/local-network.js";
import { type Identity, loadIdentity } from "../src/keys/identity.js";
import { DEFAULT_FRIEND_BURST, DEFAULT_FRIEND_REPORTS_PER_SECOND } from "../src/limits/rate-limit.js";
import { F2bNode } from "../src/node/node.js";
import { sealEnvelope } from "../src/protocol/envelope.js";
import { signReport } from "../src/protocol/report.js";
import { silentLogger } from "../src/util/logger.js";
import {
  type BenchContext,
  type BenchResult,
  docIp,
  fmt,
  fmtBytes,
  median,
  newResult,
  percentile,
  removeDir,
  stopChild,
  target,
  trackChild,
  trackDir,
} from "./common.js";
import { writeMessages } from "./frames-file.js";
import { ask, expect } from "./ipc.js";

const QUIET_INTERVAL_MS = 50;

interface Setup {
  readonly dir: string;
  readonly sinkConfig: NodeConfig;
  readonly sink: Identity;
  readonly flood: Identity;
  readonly quiet: Identity;
  readonly sinkFile: string;
}

async function setUp(): Promise<Setup> {
  const files = await writeNetworkFiles({
    nodes: [{ name: "sink" }, { name: "flood" }, { name: "quiet" }],
    links: [
      ["sink", "flood", 100, 100],
      ["sink", "quiet", 100, 100],
    ],
  });
  trackDir(files.dir);
  const sinkFile = files.configs.get("sink")!;
  const sinkConfig = loadNodeConfig(sinkFile);
  const id = (name: string): Identity => loadIdentity(loadNodeConfig(files.configs.get(name)!).keysDir);
  return { dir: files.dir, sinkConfig, sink: id("sink"), flood: id("flood"), quiet: id("quiet"), sinkFile };
}

/** `count` one-report messages from `from`, about IPs first..first+count, originated by `from`. */
function oneReportMessages(setup: Setup, from: Identity, count: number, first: number): Buffer[][] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const signed = signReport(
      { ip: docIp(first + i), time: now, origin: from.signingPublicKey, jail: "sshd" },
      from.signer,
    );
    return sealEnvelope(
      {
        from: from.signingPublicKey,
        to: setup.sink.signingPublicKey,
        entries: [{ id: signed.id, trust: 100, path: [from.signingPublicKey] }],
      },
      [signed],
      from.signer,
    );
  });
}

interface Outcome {
  readonly delays: number[];
  readonly floodAccepted: number;
  readonly rateLimited: number;
  readonly rssBefore: number;
  readonly rssPeak: number;
  readonly rssAfter: number;
  readonly seconds: number;
}

async function oneRun(
  setup: Setup,
  limits: { friendReportsPerSecond: number; friendBurst: number },
  senders: { flood: ReturnType<typeof fork>; quiet: ReturnType<typeof fork> },
  sets: { flood: number; quiet: number },
  counts: { flood: number; quiet: number },
  quietFirstIp: number,
  tag: string,
): Promise<Outcome> {
  const config: NodeConfig = {
    ...setup.sinkConfig,
    ...limits,
    listen: "tcp://127.0.0.1:0",
    bansLog: path.join(setup.dir, "sink", `bans-${tag}.log`),
    authLog: path.join(setup.dir, "sink", `auth-${tag}.log`),
    stateDir: path.join(setup.dir, "sink", `state-${tag}`),
  };
  const friends = loadFriends(setup.sinkConfig.friendsDir, {
    signingKey: setup.sink.signingPublicKey,
    curveKey: setup.sink.curvePublicKey,
  });
  const node = new F2bNode(config, friends, setup.sink, {
    context: new zmq.Context(),
    log: silentLogger(),
    now: Date.now,
  });
  await node.start();
  try {
    for (const [who, identity] of [
      ["flood", setup.flood],
      ["quiet", setup.quiet],
    ] as const) {
      await ask(
        senders[who],
        {
          op: "connect",
          endpoint: node.endpoint,
          serverKey: setup.sink.curvePublicKey,
          publicKey: identity.curvePublicKey,
          secretKey: identity.curveSecretKey,
        },
        "ready",
        15_000,
      );
    }
    const quietIps = new Set(Array.from({ length: counts.quiet }, (_, i) => docIp(quietFirstIp + i)));
    const acceptedAt = new Map<string, number>();
    let floodAccepted = 0;
    node.on("report:accepted", ({ ip }) => {
      if (quietIps.has(ip)) acceptedAt.set(ip, performance.timeOrigin + performance.now());
      else floodAccepted++;
    });
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 20);
    const start = performance.now();
    const floodSent = expect(senders.flood, "sent", 300_000);
    const quietSent = expect(senders.quiet, "trickled", 300_000);
    senders.flood.send({ op: "go", set: sets.flood });
    senders.quiet.send({ op: "trickle", set: sets.quiet, intervalMs: QUIET_INTERVAL_MS });
    await floodSent;
    const { times } = (await quietSent) as unknown as { times: number[] };
    // Everything sent has arrived once every flood report is accepted (its commit done) or refused.
    const deadline = Date.now() + 300_000;
    const settled = () =>
      node.stats.messages >= counts.flood + counts.quiet &&
      floodAccepted + (node.stats.rejected["rate-limited"] ?? 0) >= counts.flood;
    while (!settled() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const seconds = (performance.now() - start) / 1000;
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    global.gc?.();
    const rssAfter = process.memoryUsage().rss;
    const ips = [...quietIps];
    const delays = times.map((sentAt, i) => (acceptedAt.get(ips[i]!) ?? Number.NaN) - sentAt);
    if (delays.some(Number.isNaN)) throw new Error(`${tag}: a quiet friend's report was not accepted`);
    return {
      delays,
      floodAccepted,
      rateLimited: node.stats.rejected["rate-limited"] ?? 0,
      rssBefore,
      rssPeak,
      rssAfter,
      seconds,
    };
  } finally {
    await node.stop();
  }
}

export async function flood(ctx: BenchContext): Promise<BenchResult> {
  const result = newResult("flood", "one friend floods, another's report waits");
  const floodCount = ctx.quick ? 10_000 : 100_000;
  const quietCount = ctx.quick ? 40 : 200;
  const setup = await setUp();
  const spawnSender = (): ReturnType<typeof fork> =>
    trackChild(fork(new URL("./ingest-sender.js", import.meta.url), [], { stdio: "inherit" }));
  const senders = { flood: spawnSender(), quiet: spawnSender() };
  try {
    await Promise.all([expect(senders.flood, "started", 15_000), expect(senders.quiet, "started", 15_000)]);
    const rows: string[][] = [];
    const modes = [
      {
        name: `rate limit as shipped (${DEFAULT_FRIEND_REPORTS_PER_SECOND}/s, burst ${DEFAULT_FRIEND_BURST})`,
        key: "limited",
        limits: {
          friendReportsPerSecond: DEFAULT_FRIEND_REPORTS_PER_SECOND,
          friendBurst: DEFAULT_FRIEND_BURST,
        },
      },
      {
        name: "no rate limit",
        key: "unlimited",
        limits: { friendReportsPerSecond: 1_000_000, friendBurst: 10_000_000 },
      },
    ];
    let firstIp = 0;
    for (const mode of modes) {
      ctx.progress(`${mode.key}: building ${floodCount} flood messages and ${quietCount} quiet ones`);
      const floodFile = path.join(setup.dir, `flood-${mode.key}.bin`);
      const quietFile = path.join(setup.dir, `quiet-${mode.key}.bin`);
      writeMessages(floodFile, oneReportMessages(setup, setup.flood, floodCount, firstIp));
      const quietFirstIp = firstIp + floodCount;
      writeMessages(quietFile, oneReportMessages(setup, setup.quiet, quietCount, quietFirstIp));
      firstIp += floodCount + quietCount;
      const floodSet = await ask<{ op: string; set: number }>(
        senders.flood,
        { op: "load", file: floodFile },
        "loaded",
        60_000,
      );
      const quietSet = await ask<{ op: string; set: number }>(
        senders.quiet,
        { op: "load", file: quietFile },
        "loaded",
        60_000,
      );
      ctx.progress(`${mode.key}: flooding`);
      const o = await oneRun(
        setup,
        mode.limits,
        senders,
        { flood: floodSet.set, quiet: quietSet.set },
        { flood: floodCount, quiet: quietCount },
        quietFirstIp,
        mode.key,
      );
      rows.push([
        mode.name,
        fmt(median(o.delays), 1),
        fmt(percentile(o.delays, 95), 1),
        fmt(Math.max(...o.delays), 1),
        fmt(o.floodAccepted),
        fmt(o.rateLimited),
        fmtBytes(o.rssPeak - o.rssBefore),
        fmtBytes(o.rssAfter - o.rssBefore),
        fmt(o.seconds, 1),
      ]);
      result.data[mode.key] = {
        delayMs: { median: median(o.delays), p95: percentile(o.delays, 95), max: Math.max(...o.delays) },
        floodAccepted: o.floodAccepted,
        rateLimited: o.rateLimited,
        rssBefore: o.rssBefore,
        rssPeakGrowth: o.rssPeak - o.rssBefore,
        rssAfterGrowth: o.rssAfter - o.rssBefore,
        seconds: o.seconds,
      };
      if (mode.key === "limited") {
        const max = Math.max(...o.delays);
        result.targets.push(
          target("quiet friend's report under a flood: max delay", "≤ 50 ms", `${fmt(max, 1)} ms`, max <= 50),
          target(
            "RSS growth under a flood",
            "≤ 100 MB",
            fmtBytes(o.rssPeak - o.rssBefore),
            o.rssPeak - o.rssBefore <= 100 * 1024 * 1024,
          ),
        );
      }
    }
    result.tables.push({
      title: `${floodCount} one-report messages from one friend as fast as it can; another friend sends one report every ${QUIET_INTERVAL_MS} ms (${quietCount} in all)`,
      columns: [
        "node",
        "quiet delay median ms",
        "p95",
        "max",
        "flood accepted",
        "rate-limited",
        "RSS peak growth",
        "RSS growth after",
        "s",
      ],
      rows,
      note: "delay = from the quiet friend's send to the node's report:accepted (wall clocks of two processes on one host)",
    });
    result.data.floodMessages = floodCount;
    result.data.quietReports = quietCount;
    return result;
  } finally {
    for (const sender of Object.values(senders)) {
      sender.connected && sender.send({ op: "exit" });
      await stopChild(sender);
    }
    removeDir(setup.dir);
  }
}
