/**
 * A Ledger holding 1,000,000 distinct IPs (quick: 50,000), measured in a child process of its own:
 * memory growth, lookup cost, a full "sync answer", the expiry scan, and the store on disk: the
 * node's journal (state_dir/journal.bin) compacted to the live reports, its write and replay times.
 */
import { fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  type BenchContext,
  type BenchResult,
  fmt,
  fmtBytes,
  newResult,
  removeDir,
  stopChild,
  trackChild,
  trackDir,
} from "./common.js";
import { expect } from "./ipc.js";

interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

interface StateResult {
  count: number;
  bans: number;
  fill: { signMs: number; applyMs: number; applyPerSec: number };
  memory: { before: Mem; after: Mem };
  lookupNs: { hitMedian: number; hitP99: number; missMedian: number };
  syncAnswer: { medianMs: number; ips: number; jsonBytes: number };
  expireScanMs: number;
  journal: {
    bytes: number;
    writeMs: number;
    restoreMs: number;
    readMs: number;
    replayMs: number;
    peakRssGrowth: number;
  };
}

export async function state(ctx: BenchContext): Promise<BenchResult> {
  const count = ctx.quick ? 50_000 : 1_000_000;
  const result = newResult("state", `a Ledger holding ${count.toLocaleString("en-US")} distinct IPs`);
  const dir = trackDir(fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-bench-state-")));
  const child = trackChild(
    fork(new URL("./state-child.js", import.meta.url), [String(count), dir], {
      execArgv: ["--expose-gc", "--max-old-space-size=12288"],
      stdio: "inherit",
    }),
  );
  try {
    ctx.progress(`filling a ledger with ${count} really signed reports (child process ${child.pid})`);
    const { result: r } = await expect<{ op: string; result: StateResult }>(child, "result", 9 * 60_000);
    const { before, after } = r.memory;
    const grow = (key: keyof Mem): number => after[key] - before[key];
    result.tables.push({
      title: "memory growth after a full GC",
      columns: ["", "total", "per IP"],
      rows: [
        ["RSS", fmtBytes(grow("rss")), `${fmt(grow("rss") / count, 0)} B`],
        ["V8 heap used", fmtBytes(grow("heapUsed")), `${fmt(grow("heapUsed") / count, 0)} B`],
        ["outside the heap (Buffers)", fmtBytes(grow("external")), `${fmt(grow("external") / count, 0)} B`],
      ],
      note: "each IP: one report (bytes, signature, id, decoded fields, path of 2 keys viewing its envelope) and one contribution; like handleMessage builds them",
    });
    result.tables.push({
      title: "cost",
      columns: ["operation", "median", "note"],
      rows: [
        [
          "ledger.score(ip), known IP",
          `${fmt(r.lookupNs.hitMedian, 0)} ns`,
          `p99 ${fmt(r.lookupNs.hitP99, 0)} ns, 1,000 random IPs × 300 rounds`,
        ],
        ["ledger.score(ip), unknown IP", `${fmt(r.lookupNs.missMedian, 0)} ns`, ""],
        [
          "sync answer: every live IP with its score",
          `${fmt(r.syncAnswer.medianMs, 0)} ms`,
          `${r.syncAnswer.ips.toLocaleString("en-US")} IPs via Ledger.live() + score(); ${fmtBytes(r.syncAnswer.jsonBytes)} as JSON`,
        ],
        [
          "ledger.expire(now), nothing expired",
          `${fmt(r.expireScanMs, 0)} ms`,
          "runs every 60 s on the node's event loop",
        ],
        [
          "ledger.apply, while filling",
          `${fmt(r.fill.applyPerSec)}/s`,
          `signing the reports took ${fmt(r.fill.signMs / 1000, 1)} s`,
        ],
        [
          "journal: write compacted (as at start)",
          `${fmt(r.journal.writeMs, 0)} ms`,
          "Journal.open(ledger.live()), with fsync",
        ],
        [
          "journal: read + replay into an empty ledger",
          `${fmt(r.journal.restoreMs, 0)} ms`,
          `what a restart costs before the node listens: read ${fmt(r.journal.readMs / 1000, 1)} s + replay ${fmt(r.journal.replayMs / 1000, 1)} s, in a process holding nothing else`,
        ],
      ],
    });
    result.tables.push({
      title: "store size on disk: the node's journal (state_dir/journal.bin), compacted",
      columns: ["", "size", "per IP"],
      rows: [["journal.bin", fmtBytes(r.journal.bytes), `${fmt(r.journal.bytes / count, 0)} B`]],
      note: "one record per live report: trust, via key, path keys (2 here), the report's bytes and its signature",
    });
    Object.assign(result.data, r, {
      growth: { rss: grow("rss"), heapUsed: grow("heapUsed"), external: grow("external") },
      perIp: {
        rss: grow("rss") / count,
        heapUsed: grow("heapUsed") / count,
        journal: r.journal.bytes / count,
      },
    });
    return result;
  } finally {
    await stopChild(child);
    removeDir(dir);
  }
}
