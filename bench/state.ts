/**
 * The state store at scale, with the real `f2bp2p run` process: a node whose store holds 0 (the
 * baseline), 30,000 (the size of a community blocklist) and 1,000,000 live reports of distinct IPs
 * (quick: 0, 5,000, 20,000). For each: the time from spawning the node to its first accepted
 * `report`, and its resident memory after it has handled 500 reports. Every ratio is against the
 * empty node measured in the same run.
 */
import { fork } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { askNode } from "../src/cli/control-client.js";
import { writeNetworkFiles } from "../src/demo/local-network.js";
import { STORE_FILE } from "../src/state/sqlite-store.js";
import {
  type BenchContext,
  type BenchResult,
  docIp,
  fmt,
  fmtBytes,
  newResult,
  removeDir,
  sleep,
  stopChild,
  target,
  trackChild,
  trackDir,
} from "./common.js";
import { expect } from "./ipc.js";
import { spawnNode } from "./processes.js";

/** Fresh IPs the benchmark reports come from docIp(0 … FILL_OFFSET-1); the store is filled above. */
const FILL_OFFSET = 4000;
const WARM_REPORTS = 500;

interface Run {
  readonly count: number;
  readonly fill?: Record<string, number>;
  readonly firstReportMs: number;
  readonly rss: number;
  readonly peakRss: number;
  readonly storeBytes: number;
}

export async function state(ctx: BenchContext): Promise<BenchResult> {
  const big = ctx.quick ? 20_000 : 1_000_000;
  const mid = ctx.quick ? 5_000 : 30_000;
  const result = newResult(
    "state",
    `f2bp2p run with 0, ${mid.toLocaleString("en-US")} and ${big.toLocaleString("en-US")} live reports`,
  );
  const runs: Run[] = [];
  for (const count of [0, mid, big]) runs.push(await measure(ctx, count));
  const [empty, middle, full] = runs as [Run, Run, Run];
  result.tables.push({
    title: "the real node process (`f2bp2p run`) on a filled state dir",
    columns: ["live reports", "start → first accepted report", "RSS", "RSS / empty", "peak RSS", "state.db"],
    rows: runs.map((r) => [
      r.count.toLocaleString("en-US"),
      `${fmt(r.firstReportMs, 0)} ms`,
      fmtBytes(r.rss),
      `${fmt(r.rss / empty.rss, 2)}×`,
      fmtBytes(r.peakRss),
      fmtBytes(r.storeBytes),
    ]),
    note: `RSS read from /proc after ${WARM_REPORTS} reports through the control socket; the store is filled by a separate process with really signed reports (1,000 origins, 8 friends), then the node is spawned on it`,
  });
  if (full.fill) {
    result.tables.push({
      title: "filling the store (Ledger.apply in transactions of 64, as one envelope)",
      columns: ["reports", "apply rate", "signing took"],
      rows: [
        [
          full.count.toLocaleString("en-US"),
          `${fmt(full.fill.applyPerSec ?? 0)}/s`,
          `${fmt((full.fill.signMs ?? 0) / 1000, 1)} s`,
        ],
      ],
    });
  }
  if (!ctx.quick) {
    result.targets.push(
      target(
        "RSS with 1,000,000 live reports",
        "≤ 300 MB",
        fmtBytes(full.rss),
        full.rss <= 300 * 1024 * 1024,
      ),
      target(
        "RSS with 1,000,000 / empty node",
        "≤ 4×",
        `${fmt(full.rss / empty.rss, 2)}×`,
        full.rss <= 4 * empty.rss,
      ),
      target(
        "start → first accepted report, 1,000,000 live",
        "≤ 2 s",
        `${fmt(full.firstReportMs, 0)} ms`,
        full.firstReportMs <= 2000,
      ),
      target(
        "RSS with 30,000 / empty node",
        "≤ 1.2×",
        `${fmt(middle.rss / empty.rss, 2)}×`,
        middle.rss <= 1.2 * empty.rss,
      ),
    );
  }
  Object.assign(result.data, { runs });
  return result;
}

async function measure(ctx: BenchContext, count: number): Promise<Run> {
  const files = await writeNetworkFiles({ nodes: [{ name: "bench" }], links: [] });
  trackDir(files.dir);
  const home = path.join(files.dir, "bench");
  const stateDir = path.join(home, "state");
  fs.mkdirSync(stateDir, { recursive: true });
  try {
    let fill: Record<string, number> | undefined;
    if (count > 0) {
      ctx.progress(`filling a store with ${count} really signed reports`);
      const child = trackChild(
        fork(new URL("./state-child.js", import.meta.url), [String(count), stateDir, String(FILL_OFFSET)], {
          stdio: "inherit",
        }),
      );
      try {
        fill = (await expect<{ op: string; result: Record<string, number> }>(child, "filled", 15 * 60_000))
          .result;
      } finally {
        await stopChild(child);
      }
    }
    const storeBytes = fs.statSync(path.join(stateDir, STORE_FILE), { throwIfNoEntry: false })?.size ?? 0;
    ctx.progress(`starting f2bp2p run on ${count} live reports`);
    const socket = path.join(home, "control.sock");
    const t0 = performance.now();
    const node = spawnNode("bench", files.configs.get("bench")!, socket);
    try {
      let firstReportMs = Number.NaN;
      while (Number.isNaN(firstReportMs)) {
        if (node.child.exitCode !== null) throw new Error(`node exited: ${node.stderr()}`);
        if (performance.now() - t0 > 120_000)
          throw new Error(`no report accepted in 120 s: ${node.stderr()}`);
        try {
          const answer = await askNode(socket, { op: "report", ip: docIp(0) }, 1000);
          if (answer.ok && answer.status === "accepted") firstReportMs = performance.now() - t0;
        } catch {
          await sleep(5);
        }
      }
      for (let i = 1; i <= WARM_REPORTS; i++) await askNode(socket, { op: "report", ip: docIp(i) }, 5000);
      await askNode(socket, { op: "status" }, 30_000);
      const status = fs.readFileSync(`/proc/${node.child.pid}/status`, "utf8");
      const kib = (key: string): number =>
        Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
      return { count, fill, firstReportMs, rss: kib("VmRSS"), peakRss: kib("VmHWM"), storeBytes } as Run;
    } finally {
      await stopChild(node.child);
    }
  } finally {
    removeDir(files.dir);
  }
}
