/**
 * Latency along a chain of 10 real node processes (`f2bp2p run`), trust 100 and threshold 1 everywhere,
 * so every node bans. The clock starts when the bench sends `report` on node 1's control socket and
 * stops for node k when its ban line is in node k's bans log (fs.watch, with a 2 ms poll as fallback).
 */
import fs from "node:fs";
import { askNode } from "../src/cli/control-client.js";
import { loadNodeConfig } from "../src/config/load.js";
import { type NetworkSpec, writeNetworkFiles } from "../src/demo/local-network.js";
import {
  type BenchContext,
  type BenchResult,
  docIp,
  fmt,
  median,
  newResult,
  percentile,
  removeDir,
  sleep,
  target,
  trackDir,
} from "./common.js";
import { type NodeProcess, spawnNode, stopNodes, waitReady } from "./processes.js";

const CHAIN = 10;
const REPORT_TIMEOUT_MS = 5000;

interface Pending {
  readonly times: (number | undefined)[];
  remaining: number;
  readonly resolve: () => void;
}

/** Follows the bans logs of every node and notes when each one first shows a line for an IP. */
class BansLogWatcher {
  readonly #fds: number[];
  readonly #offsets: number[];
  readonly #partial: string[];
  readonly #watchers: fs.FSWatcher[] = [];
  readonly #pending = new Map<string, Pending>();
  #poll: NodeJS.Timeout | undefined;
  watchEvents = 0;

  constructor(files: readonly string[]) {
    this.#fds = files.map((f) => fs.openSync(f, "r"));
    this.#offsets = this.#fds.map((fd) => fs.fstatSync(fd).size);
    this.#partial = files.map(() => "");
    files.forEach((file, k) => {
      this.#watchers.push(
        fs.watch(file, () => {
          this.watchEvents++;
          this.#read(k);
        }),
      );
    });
  }

  /** Resolves with the time each log showed the IP (undefined where it did not within the timeout). */
  expect(ip: string, timeoutMs: number): Promise<(number | undefined)[]> {
    return new Promise((resolve) => {
      const times: (number | undefined)[] = this.#fds.map(() => undefined);
      const finish = (): void => {
        clearTimeout(timer);
        this.#pending.delete(ip);
        if (this.#pending.size === 0) {
          clearInterval(this.#poll);
          this.#poll = undefined;
        }
        resolve(times);
      };
      const timer = setTimeout(finish, timeoutMs);
      this.#pending.set(ip, { times, remaining: this.#fds.length, resolve: finish });
      this.#poll ??= setInterval(() => this.#readAll(), 2);
    });
  }

  #readAll(): void {
    for (let k = 0; k < this.#fds.length; k++) this.#read(k);
  }

  #read(k: number): void {
    const now = performance.now();
    const size = fs.fstatSync(this.#fds[k]!).size;
    if (size <= this.#offsets[k]!) return;
    const buffer = Buffer.alloc(size - this.#offsets[k]!);
    const got = fs.readSync(this.#fds[k]!, buffer, 0, buffer.length, this.#offsets[k]!);
    this.#offsets[k]! += got;
    const text = this.#partial[k]! + buffer.toString("utf8", 0, got);
    const lines = text.split("\n");
    this.#partial[k] = lines.pop()!;
    for (const line of lines) {
      const ip = / BAN (\S+) /.exec(line)?.[1];
      const pending = ip === undefined ? undefined : this.#pending.get(ip);
      if (pending === undefined || pending.times[k] !== undefined) continue;
      pending.times[k] = now;
      if (--pending.remaining === 0) pending.resolve();
    }
  }

  close(): void {
    clearInterval(this.#poll);
    for (const w of this.#watchers) w.close();
    for (const fd of this.#fds) fs.closeSync(fd);
  }
}

export function chainSpec(length: number): NetworkSpec {
  const names = Array.from({ length }, (_, i) => `n${String(i + 1).padStart(2, "0")}`);
  return {
    nodes: names.map((name) => ({ name, threshold: 1, maxHops: length })),
    links: names.slice(1).map((name, i) => [names[i]!, name, 100, 100] as const),
  };
}

export async function hops(ctx: BenchContext): Promise<BenchResult> {
  const result = newResult("hops", `report at node 1 → ban line at node k, chain of ${CHAIN} processes`);
  const reports = ctx.quick ? 10 : 60;
  const warmUp = 3;
  const spec = chainSpec(CHAIN);
  const files = await writeNetworkFiles(spec);
  trackDir(files.dir);
  const configs = spec.nodes.map((n) => loadNodeConfig(files.configs.get(n.name)!));
  const nodes: NodeProcess[] = [];
  let watcher: BansLogWatcher | undefined;
  try {
    ctx.progress(`starting ${CHAIN} node processes`);
    const startedAt = performance.now();
    for (const config of configs) nodes.push(spawnNode(config.name, config.file, config.controlSocket));
    await Promise.all(nodes.map((n) => waitReady(n, 30_000)));
    const startupMs = performance.now() - startedAt;
    watcher = new BansLogWatcher(configs.map((c) => c.bansLog));

    const samples: number[][] = []; // per report: time to node k's line, ms
    const acks: number[] = [];
    let incomplete = 0;
    ctx.progress(`${warmUp} warm-up + ${reports} reports`);
    for (let i = 0; i < warmUp + reports; i++) {
      const ip = docIp(i);
      const seen = watcher.expect(ip, REPORT_TIMEOUT_MS);
      const start = performance.now();
      const answer = await askNode(nodes[0]!.controlSocket, { op: "report", ip, jail: "sshd" });
      const ack = performance.now() - start;
      if (!answer.ok || answer.status !== "accepted")
        throw new Error(`node 1 answered ${JSON.stringify(answer)}`);
      const times = await seen;
      if (i >= warmUp) {
        if (times.some((t) => t === undefined)) incomplete++;
        else {
          samples.push(times.map((t) => t! - start));
          acks.push(ack);
        }
      }
      await sleep(15);
    }
    if (samples.length < reports / 2)
      throw new Error(`only ${samples.length}/${reports} reports reached all nodes`);

    const rows: (string | number)[][] = [];
    const perK: { k: number; medianMs: number; p99Ms: number }[] = [];
    for (let k = 0; k < CHAIN; k++) {
      const ts = samples.map((s) => s[k]!);
      const step = k === 0 ? [] : samples.map((s) => s[k]! - s[k - 1]!);
      perK.push({ k: k + 1, medianMs: median(ts), p99Ms: percentile(ts, 99) });
      rows.push([
        `node ${k + 1}${k === 0 ? " (origin)" : ""}`,
        k,
        fmt(median(ts), 2),
        fmt(percentile(ts, 99), 2),
        k === 0 ? "—" : fmt(median(step), 2),
      ]);
    }
    const perHop = samples.map((s) => (s[CHAIN - 1]! - s[0]!) / (CHAIN - 1));
    const perHopMedian = median(perHop);
    result.tables.push({
      title: `ms from the report request to the ban line, ${samples.length} reports (median, p99)`,
      columns: ["bans log of", "hops", "median ms", "p99 ms", "median step from k−1"],
      rows,
      note: `control-socket round trip at node 1 (request → answer): median ${fmt(median(acks), 2)} ms; ${incomplete} report(s) did not reach all nodes in ${REPORT_TIMEOUT_MS} ms; ${CHAIN} processes started and connected in ${fmt(startupMs)} ms`,
    });
    result.tables.push({
      title: "per hop: (time at node 10 − time at node 1) ÷ 9, over the same reports",
      columns: ["", "median ms", "p99 ms", "min ms"],
      rows: [["per hop", fmt(perHopMedian, 3), fmt(percentile(perHop, 99), 3), fmt(Math.min(...perHop), 3)]],
    });
    result.targets.push(target("median per hop", "< 2 ms", `${fmt(perHopMedian, 3)} ms`, perHopMedian < 2));
    Object.assign(result.data, {
      chain: CHAIN,
      reports: samples.length,
      incomplete,
      perK,
      perHopMedianMs: perHopMedian,
      perHopP99Ms: percentile(perHop, 99),
      ackMedianMs: median(acks),
      endToEndMedianMs: perK[CHAIN - 1]!.medianMs,
      startupMs,
      fsWatchEvents: watcher.watchEvents,
    });
    return result;
  } finally {
    watcher?.close();
    await stopNodes(nodes);
    removeDir(files.dir);
  }
}
