/**
 * A random friend graph of 200 nodes (quick: 30) on loopback, split over 2 worker processes, each node
 * with its own real CURVE sockets. Reports from random origins, one at a time, each about a new IP.
 * Measures: coverage against an independent prediction of the trust rules, envelope entries per report
 * against the friendships, time to full coverage, and memory per node.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import fs from "node:fs";
import { writeNetworkFiles } from "../src/demo/local-network.js";
import {
  type BenchContext,
  type BenchResult,
  docIp,
  fmt,
  fmtBytes,
  median,
  newResult,
  percentile,
  prng,
  removeDir,
  sleep,
  stopChild,
  sum,
  target,
  trackChild,
  trackDir,
} from "./common.js";
import { type Graph, graphSpec, predict, predictBestCopyOnly, randomGraph } from "./graph.js";
import { ask, expect } from "./ipc.js";

const SEED = 20_261_121;
const WORKERS = 2;
const POLL_MS = 10;
const REPORT_TIMEOUT_MS = 20_000;

interface Totals {
  handled: number;
  sent: number;
  queued: number;
  messages: number;
  rejected: number;
  noGain: number;
  dropped: number;
}

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** Soft and hard limits on open files of this process (children inherit them), from /proc. */
function fileLimits(): { soft: number; hard: number } {
  try {
    const line = fs
      .readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"))!;
    const [soft, hard] = line.split(/\s+/).slice(3, 5);
    return { soft: Number(soft), hard: hard === "unlimited" ? Number.POSITIVE_INFINITY : Number(hard) };
  } catch {
    return { soft: Number.POSITIVE_INFINITY, hard: Number.POSITIVE_INFINITY };
  }
}

/**
 * Forks a worker; when the per-process open-file limit is below what its nodes need, starts it through
 * `sh -c 'ulimit -n HARD; exec node …'` instead, which keeps the IPC channel.
 */
export function startWorker(needFiles: number): { child: ChildProcess; raisedTo: number | null } {
  const script = new URL("./network-worker.js", import.meta.url).pathname;
  const { soft, hard } = fileLimits();
  if (soft >= needFiles || hard <= soft) {
    return { child: fork(script, [], { execArgv: ["--expose-gc"], stdio: "inherit" }), raisedTo: null };
  }
  const raise = Number.isFinite(hard) ? hard : needFiles * 2;
  const child = spawn(
    "sh",
    ["-c", `ulimit -n ${raise} && exec "$0" --expose-gc "$1"`, process.execPath, script],
    { stdio: ["inherit", "inherit", "inherit", "ipc"] },
  );
  return { child, raisedTo: raise };
}

interface ReportOutcome {
  readonly coverageMs: number | undefined;
  readonly lastBanMs: number;
  readonly settleMs: number;
  readonly entries: number;
  readonly envelopes: number;
  readonly noGain: number;
  readonly maxPerLink: number;
  readonly linksOverOnce: number;
  readonly linksUsed: number;
  readonly missing: number[];
  readonly extra: number[];
  readonly timedOut: boolean;
  /** Ban lines for an earlier report's IP seen while this one travelled (only after a timeout). */
  readonly stray: number;
}

export async function network(ctx: BenchContext): Promise<BenchResult> {
  const count = ctx.quick ? 30 : 200;
  const reports = ctx.quick ? 50 : 1000;
  const budgetMs = ctx.quick ? 25_000 : 15 * 60_000;
  const result = newResult("network", `${count} nodes, random friend graph, ${reports} reports`);
  const graph: Graph = randomGraph(count, SEED);
  const degrees = graph.adjacency.map((a) => a.length);
  const friendships = graph.edges.length;
  const index = new Map(graph.names.map((n, i) => [n, i]));
  ctx.progress(`writing keys and configs for ${count} nodes, ${friendships} friendships`);
  const files = await writeNetworkFiles(graphSpec(graph));
  trackDir(files.dir);
  const workers: ChildProcess[] = [];
  let raisedTo: number | null = null;
  try {
    const owner = new Map<string, ChildProcess>();
    const perWorker = Math.ceil(count / WORKERS);
    const needFiles = perWorker * (1 + 2 * Math.max(...degrees)) * 2 + 256;
    for (let w = 0; w < WORKERS; w++) {
      const started = startWorker(needFiles);
      raisedTo ??= started.raisedTo;
      workers.push(trackChild(started.child));
    }
    await Promise.all(workers.map((w) => expect(w, "ready", 20_000)));
    ctx.progress(`starting nodes in ${WORKERS} worker processes`);
    const startAt = performance.now();
    const startAnswers = await Promise.all(
      workers.map((w, i) => {
        const mine = graph.names.filter((_, n) => n % WORKERS === i);
        for (const name of mine) owner.set(name, w);
        return ask<{ op: string; before: Memory; after: Memory }>(
          w,
          { op: "start", nodes: mine.map((name) => ({ name, file: files.configs.get(name)! })) },
          "started",
          180_000,
        );
      }),
    );
    let connection = { up: 0, links: 0 };
    const connectDeadline = performance.now() + 120_000;
    let fileUse: { open: number; limit: number }[] = [];
    while (performance.now() < connectDeadline) {
      const answers = await Promise.all(
        workers.map((w) =>
          ask<{ op: string; up: number; links: number; files: { open: number; limit: number } }>(
            w,
            { op: "connected" },
            "connected",
            10_000,
          ),
        ),
      );
      connection = { up: sum(answers.map((a) => a.up)), links: sum(answers.map((a) => a.links)) };
      fileUse = answers.map((a) => a.files);
      if (connection.up === connection.links) break;
      await sleep(100);
    }
    if (connection.up !== connection.links)
      throw new Error(`only ${connection.up}/${connection.links} links connected in 120 s`);
    const startupMs = performance.now() - startAt;

    const poll = async (): Promise<{ totals: Totals; bans: [string, string, number][] }> => {
      const answers = await Promise.all(
        workers.map((w) =>
          ask<{ op: string; totals: Totals; bans: [string, string, number][] }>(
            w,
            { op: "poll" },
            "poll",
            10_000,
          ),
        ),
      );
      const totals: Totals = {
        handled: 0,
        sent: 0,
        queued: 0,
        messages: 0,
        rejected: 0,
        noGain: 0,
        dropped: 0,
      };
      for (const a of answers)
        for (const key of Object.keys(totals) as (keyof Totals)[]) totals[key] += a.totals[key];
      return { totals, bans: answers.flatMap((a) => a.bans) };
    };
    const linkDeltas = async (): Promise<[string, string, number][]> =>
      (
        await Promise.all(
          workers.map((w) =>
            ask<{ op: string; deltas: [string, string, number][] }>(w, { op: "links" }, "links", 10_000),
          ),
        )
      ).flatMap((a) => a.deltas);

    await linkDeltas();
    let base = (await poll()).totals;
    const rand = prng(SEED + 1);
    const outcomes: ReportOutcome[] = [];
    const ips: string[] = [];
    const origins: number[] = [];
    const runStart = performance.now();
    ctx.progress(`${reports} reports, one at a time`);
    for (let r = 0; r < reports; r++) {
      if (performance.now() - runStart > budgetMs) {
        result.notes.push(`stopped after ${r} reports: the time budget of ${budgetMs / 1000} s ran out`);
        break;
      }
      if (!ctx.quick && r > 0 && r % 100 === 0) ctx.progress(`${r}/${reports} reports`);
      const origin = Math.floor(rand() * count);
      const ip = docIp(r);
      ips.push(ip);
      origins.push(origin);
      const predicted = predict(graph, origin);
      const worker = owner.get(graph.names[origin]!)!;
      const sentAt = performance.now();
      const { t0, status } = await ask<{ op: string; t0: number; status: string }>(
        worker,
        { op: "report", node: graph.names[origin]!, ip },
        "reported",
        10_000,
      );
      if (status !== "accepted")
        throw new Error(`origin ${graph.names[origin]} answered ${status} for ${ip}`);
      const banTimes = new Map<number, number>();
      let stray = 0;
      let previous: Totals | undefined;
      let timedOut = false;
      let totals = base;
      for (;;) {
        await sleep(POLL_MS);
        const polled = await poll();
        for (const [name, banIp, at] of polled.bans) {
          if (banIp === ip) banTimes.set(index.get(name)!, at - t0);
          else stray++;
        }
        totals = polled.totals;
        const quiet =
          totals.queued === 0 &&
          totals.sent === totals.handled &&
          previous !== undefined &&
          previous.sent === totals.sent &&
          previous.handled === totals.handled;
        if (quiet) break;
        if (performance.now() - sentAt > REPORT_TIMEOUT_MS) {
          timedOut = true;
          break;
        }
        previous = totals;
      }
      const deltas = await linkDeltas();
      const perLink = deltas.map((d) => d[2]);
      const banned = new Set(banTimes.keys());
      const missing = [...predicted.banned].filter((v) => !banned.has(v));
      const extra = [...banned].filter((v) => !predicted.banned.has(v));
      const predictedTimes = [...predicted.banned].map((v) => banTimes.get(v));
      outcomes.push({
        coverageMs: missing.length === 0 ? Math.max(...predictedTimes.map((t) => t ?? 0)) : undefined,
        lastBanMs: Math.max(0, ...banTimes.values()),
        settleMs: performance.now() - sentAt,
        entries: sum(perLink),
        envelopes: totals.messages - base.messages,
        noGain: totals.noGain - base.noGain,
        maxPerLink: Math.max(0, ...perLink),
        linksOverOnce: perLink.filter((d) => d > 1).length,
        linksUsed: perLink.length,
        missing,
        extra,
        timedOut,
        stray,
      });
      base = totals;
    }

    ctx.progress("collecting scores and memory");
    const scoreAnswers = await Promise.all(
      workers.map((w) =>
        ask<{ op: string; scores: Record<string, number[]> }>(w, { op: "scores", ips }, "scores", 60_000),
      ),
    );
    const scores = Object.assign({}, ...scoreAnswers.map((a) => a.scores)) as Record<string, number[]>;
    let scoreMismatches = 0;
    let explained = 0;
    let above = 0;
    const scoreExamples: string[] = [];
    ips.forEach((ip, r) => {
      const predicted = predict(graph, origins[r]!);
      const bestCopyOnly = predictBestCopyOnly(graph, origins[r]!);
      graph.names.forEach((name, v) => {
        const got = scores[name]![r]!;
        if (got !== predicted.score[v]) {
          scoreMismatches++;
          if (got >= bestCopyOnly[v]! && got <= predicted.score[v]!) explained++;
          if (got > predicted.score[v]!) above++;
          if (scoreExamples.length < 5)
            scoreExamples.push(
              `${ip} from ${graph.names[origins[r]!]}: ${name} has ${got}, predicted ${predicted.score[v]}`,
            );
        }
      });
    });
    const memoryAnswers = await Promise.all(
      workers.map((w) =>
        ask<{ op: string; memory: Memory; files: { open: number; limit: number } }>(
          w,
          { op: "memory" },
          "memory",
          30_000,
        ),
      ),
    );

    // ------------------------------------------------------------ tables
    const done = outcomes.length;
    const mismatched = outcomes.filter((o) => o.missing.length + o.extra.length > 0);
    let missingExplained = 0;
    for (const o of mismatched) {
      const bestCopyOnly = predictBestCopyOnly(graph, origins[outcomes.indexOf(o)]!);
      missingExplained += o.missing.filter((v) => bestCopyOnly[v]! < graph.threshold[v]!).length;
    }
    const coverage = outcomes.map((o) => o.coverageMs).filter((t): t is number => t !== undefined);
    const entries = outcomes.map((o) => o.entries);
    const envelopes = outcomes.map((o) => o.envelopes);
    const overOnce = outcomes.filter((o) => o.maxPerLink > 1);
    const timedOut = outcomes.filter((o) => o.timedOut).length;
    const predictedBans = outcomes.map((_, r) => predict(graph, origins[r]!).banned.size);
    const rssStart = sum(startAnswers.map((a) => a.after.rss));
    const rssBase = sum(startAnswers.map((a) => a.before.rss));
    const rssEnd = sum(memoryAnswers.map((a) => a.memory.rss));
    const heapStart = sum(startAnswers.map((a) => a.after.heapUsed));
    const heapBase = sum(startAnswers.map((a) => a.before.heapUsed));
    const heapEnd = sum(memoryAnswers.map((a) => a.memory.heapUsed));
    const externalEnd = sum(memoryAnswers.map((a) => a.memory.external));
    const heapTotalEnd = sum(memoryAnswers.map((a) => a.memory.heapTotal));

    result.tables.push({
      title: "graph",
      columns: [
        "nodes",
        "friendships",
        "directed links",
        "degree min/median/max",
        "processes",
        "started+connected",
      ],
      rows: [
        [
          count,
          friendships,
          2 * friendships,
          `${Math.min(...degrees)}/${median(degrees)}/${Math.max(...degrees)}`,
          `${WORKERS} workers`,
          `${fmt(startupMs / 1000, 1)} s`,
        ],
      ],
      note: `seed ${SEED}; trust 60–100 each way; thresholds from {30,40,50,60,80}, max_hops from {3,4,6} per node; open files per worker ${fileUse.map((f) => `${f.open}/${f.limit}`).join(", ")}${raisedTo ? `; raised to ${raisedTo}` : ""}`,
    });
    result.tables.push({
      title: `coverage: nodes that wrote a ban line vs the best-path prediction, ${done} reports`,
      columns: ["", "value"],
      rows: [
        ["reports whose ban set matches the prediction exactly", `${done - mismatched.length}/${done}`],
        [
          "predicted bans per report (median / max)",
          `${median(predictedBans)} / ${Math.max(...predictedBans)}`,
        ],
        ["missing bans (predicted, not written), total", sum(mismatched.map((o) => o.missing.length))],
        ["extra bans (written, not predicted), total", sum(mismatched.map((o) => o.extra.length))],
        [
          "node scores equal to predicted best-path trust",
          `${done * count - scoreMismatches}/${done * count}`,
        ],
        ["  others between best-copy-only and best-path (arrival order)", `${explained}/${scoreMismatches}`],
        ["  scores above the best-path prediction (would be a bug)", above],
        [
          "  missing bans also missing under best-copy-only",
          `${missingExplained}/${sum(mismatched.map((o) => o.missing.length))}`,
        ],
        ["reports that did not settle in 20 s", timedOut],
        ["late ban lines of an earlier report", sum(outcomes.map((o) => o.stray))],
      ],
      ...(mismatched.length + scoreExamples.length > 0
        ? {
            note: [
              ...mismatched
                .slice(0, 5)
                .map(
                  (o) =>
                    `mismatch ${ips[outcomes.indexOf(o)]}: missing ${o.missing.map((v) => graph.names[v]).join(",") || "-"} extra ${o.extra.map((v) => graph.names[v]).join(",") || "-"}`,
                ),
              ...scoreExamples,
            ].join("\n  "),
          }
        : {}),
    });
    result.tables.push({
      title: `traffic per report vs ${friendships} friendships (${2 * friendships} directed links)`,
      columns: ["", "median", "p99", "max"],
      rows: [
        ["envelope entries sent", fmt(median(entries)), fmt(percentile(entries, 99)), Math.max(...entries)],
        [
          "envelopes received",
          fmt(median(envelopes)),
          fmt(percentile(envelopes, 99)),
          Math.max(...envelopes),
        ],
        [
          "entries ÷ directed links",
          fmt(median(entries) / (2 * friendships), 2),
          fmt(percentile(entries, 99) / (2 * friendships), 2),
          fmt(Math.max(...entries) / (2 * friendships), 2),
        ],
        [
          "directed links used",
          fmt(median(outcomes.map((o) => o.linksUsed))),
          fmt(
            percentile(
              outcomes.map((o) => o.linksUsed),
              99,
            ),
          ),
          Math.max(...outcomes.map((o) => o.linksUsed)),
        ],
        [
          "copies dropped as no-gain",
          fmt(median(outcomes.map((o) => o.noGain))),
          fmt(
            percentile(
              outcomes.map((o) => o.noGain),
              99,
            ),
          ),
          Math.max(...outcomes.map((o) => o.noGain)),
        ],
        [
          "largest count on one link, one direction",
          fmt(median(outcomes.map((o) => o.maxPerLink))),
          fmt(
            percentile(
              outcomes.map((o) => o.maxPerLink),
              99,
            ),
          ),
          Math.max(...outcomes.map((o) => o.maxPerLink)),
        ],
      ],
      note: `${overOnce.length}/${done} reports crossed some link more than once in one direction (${sum(outcomes.map((o) => o.linksOverOnce))} link-crossings in all): an improved copy (more trust by a longer path) is sent on again`,
    });
    result.tables.push({
      title: "time from reportLocal at the origin to the ban line (wall clock, all nodes in the ban set)",
      columns: ["", "median ms", "p99 ms", "max ms"],
      rows: [
        [
          "full coverage (last predicted ban)",
          fmt(median(coverage), 1),
          fmt(percentile(coverage, 99), 1),
          fmt(Math.max(...coverage), 1),
        ],
        [
          "until the network is quiet again (bench's view, 10 ms polls)",
          fmt(median(outcomes.map((o) => o.settleMs)), 1),
          fmt(
            percentile(
              outcomes.map((o) => o.settleMs),
              99,
            ),
            1,
          ),
          fmt(Math.max(...outcomes.map((o) => o.settleMs)), 1),
        ],
      ],
    });
    result.tables.push({
      title: `memory: ${WORKERS} worker processes holding ${count} nodes`,
      columns: ["", "total", "per node"],
      rows: [
        ["RSS after start", fmtBytes(rssStart), fmtBytes(rssStart / count)],
        [
          "RSS after start − empty worker",
          fmtBytes(rssStart - rssBase),
          fmtBytes((rssStart - rssBase) / count),
        ],
        [`RSS after ${done} reports`, fmtBytes(rssEnd), fmtBytes(rssEnd / count)],
        [
          "heap used after start − empty worker",
          fmtBytes(heapStart - heapBase),
          fmtBytes((heapStart - heapBase) / count),
        ],
        [`heap used after ${done} reports`, fmtBytes(heapEnd), fmtBytes(heapEnd / count)],
        [
          `heap reserved (heapTotal) after ${done} reports`,
          fmtBytes(heapTotalEnd),
          fmtBytes(heapTotalEnd / count),
        ],
        [`external (Buffers) after ${done} reports`, fmtBytes(externalEnd), fmtBytes(externalEnd / count)],
      ],
      note: `empty worker (modules loaded, no node): ${fmtBytes(rssBase / WORKERS)} RSS each; heap measured after a forced GC`,
    });

    const exact = mismatched.length === 0;
    result.targets.push(
      target("coverage = prediction", "exact", `${done - mismatched.length}/${done} reports`, exact),
      target(
        "each friendship crossed ≤ once per direction per report",
        "max 1",
        `max ${Math.max(...outcomes.map((o) => o.maxPerLink))} (${overOnce.length}/${done} reports > 1)`,
        overOnce.length === 0,
      ),
    );
    Object.assign(result.data, {
      seed: SEED,
      nodes: count,
      workers: WORKERS,
      friendships,
      degrees: { min: Math.min(...degrees), median: median(degrees), max: Math.max(...degrees) },
      reports: done,
      startupMs,
      coverage: {
        exactReports: done - mismatched.length,
        missing: sum(mismatched.map((o) => o.missing.length)),
        extra: sum(mismatched.map((o) => o.extra.length)),
        scoreMismatches,
        scoreMismatchesExplainedByOrder: explained,
        scoresAbovePrediction: above,
        missingExplainedByOrder: missingExplained,
        scoreExamples,
        mismatches: mismatched.slice(0, 20).map((o) => ({
          ip: ips[outcomes.indexOf(o)],
          missing: o.missing.map((v) => graph.names[v]),
          extra: o.extra.map((v) => graph.names[v]),
        })),
      },
      traffic: {
        entriesMedian: median(entries),
        entriesP99: percentile(entries, 99),
        entriesMax: Math.max(...entries),
        envelopesMedian: median(envelopes),
        directedLinks: 2 * friendships,
        reportsOverOnce: overOnce.length,
        maxPerLink: Math.max(...outcomes.map((o) => o.maxPerLink)),
      },
      coverageMs: { median: median(coverage), p99: percentile(coverage, 99), max: Math.max(...coverage) },
      settleMsMedian: median(outcomes.map((o) => o.settleMs)),
      memory: {
        rssBaseline: rssBase,
        rssAfterStart: rssStart,
        rssEnd,
        heapBaseline: heapBase,
        heapAfterStart: heapStart,
        heapEnd,
        externalEnd,
        heapTotalEnd,
        mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? null,
        rssPerNode: rssEnd / count,
        heapPerNode: heapEnd / count,
      },
      files: fileUse,
      timedOut,
    });
    return result;
  } finally {
    await Promise.all(
      workers.map(async (w) => {
        if (w.connected) {
          try {
            await ask(w, { op: "stop" }, "stopped", 20_000);
          } catch {
            // stopChild below kills it
          }
        }
        await stopChild(w, 5000);
      }),
    );
    removeDir(files.dir);
  }
}
