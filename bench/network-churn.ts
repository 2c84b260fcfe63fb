/**
 * Churn variant of the network benchmark: the same random friend graph (200 nodes, quick: 30), but
 * while reports keep being made at the nodes that are up, some nodes are stopped cleanly and started
 * again (state kept), and one worker process holding a few nodes is killed with SIGKILL (no clean stop)
 * and started again from the same state directories. When every node is back and every friend link
 * has caught up since the last restart, every node's bans log must hold exactly the best-path
 * prediction (graph.ts `predict`, as in the plain variant) for every report, each ban line once.
 *
 * Nothing waits for the periodic sync: the nodes run with the default `sync_interval` (30 s), so
 * convergence within a few seconds comes from the sync a node asks for when a friend link connects.
 */
import type { ChildProcess } from "node:child_process";
import { writeNetworkFiles } from "../src/demo/local-network.js";
import {
  type BenchContext,
  type BenchResult,
  docIp,
  fmt,
  median,
  newResult,
  prng,
  removeDir,
  sleep,
  stopChild,
  sum,
  target,
  trackChild,
  trackDir,
  wallMs,
} from "./common.js";
import { type Graph, graphSpec, predict, randomGraph } from "./graph.js";
import { ask, expect } from "./ipc.js";
import { startWorker } from "./network.js";

const SEED = 20_261_121;
/** Two workers for the nodes that are stopped cleanly or never churned, one for the nodes killed. */
const WORKERS = 3;
const CRASH_WORKER = 2;
/** Pause between reports: they overlap in flight, as on a real network, without a flood. */
const REPORT_GAP_MS = 20;
const POLL_MS = 50;

interface Totals {
  sent: number;
  handled: number;
  queued: number;
}

type SyncRow = [string, string, boolean, string, number, number];

export async function networkChurn(ctx: BenchContext): Promise<BenchResult> {
  const count = ctx.quick ? 30 : 200;
  const perPhase = ctx.quick ? 10 : 40;
  const stopSize = ctx.quick ? 4 : 20;
  const killSize = ctx.quick ? 3 : 10;
  const settleTimeoutMs = ctx.quick ? 30_000 : 90_000;
  const result = newResult(
    "network-churn",
    `${count} nodes, random friend graph, nodes stopped, killed and restarted while reports are made`,
  );
  const graph: Graph = randomGraph(count, SEED);
  const degrees = graph.adjacency.map((a) => a.length);
  const rand = prng(SEED + 2);

  // Who churns: two sets stopped cleanly (A, B) and one set in its own process, killed (K). Disjoint.
  const order = graph.names.map((_, i) => i).sort(() => rand() - 0.5);
  const killSet = order.slice(0, killSize);
  const stopA = order.slice(killSize, killSize + stopSize);
  const stopB = order.slice(killSize + stopSize, killSize + 2 * stopSize);
  const killNames = new Set(killSet.map((v) => graph.names[v]!));
  const workerOf = (v: number): number => (killNames.has(graph.names[v]!) ? CRASH_WORKER : v % 2);

  ctx.progress(`writing keys and configs for ${count} nodes, ${graph.edges.length} friendships`);
  const files = await writeNetworkFiles(graphSpec(graph));
  trackDir(files.dir);
  const perWorker = Math.ceil(count / 2);
  const needFiles = perWorker * (1 + 2 * Math.max(...degrees)) * 2 + 256;
  const workers: ChildProcess[] = [];
  const up = new Set<number>();
  const startedAt = new Map<number, number>();
  /** Ban lines as the nodes report them: ip → node → wall ms of the (first) event. */
  const banEvents = new Map<string, Map<number, number>>();
  const index = new Map(graph.names.map((n, i) => [n, i]));

  const spawnWorker = async (w: number): Promise<void> => {
    const child = trackChild(startWorker(needFiles).child);
    workers[w] = child;
    await expect(child, "ready", 20_000);
  };
  const startNodes = async (w: number, vs: number[]): Promise<void> => {
    const answer = await ask<{ op: string; startedAt: [string, number][] }>(
      workers[w]!,
      {
        op: "start",
        nodes: vs.map((v) => ({ name: graph.names[v]!, file: files.configs.get(graph.names[v]!)! })),
      },
      "started",
      180_000,
    );
    for (const [name, at] of answer.startedAt) {
      startedAt.set(index.get(name)!, at);
      up.add(index.get(name)!);
    }
  };
  const live = (): ChildProcess[] => workers.filter((w) => w.connected);
  /** Collects the ban events since the last call; returns each live worker's traffic totals. */
  const drainBans = async (): Promise<Totals[]> => {
    const answers = await Promise.all(
      live().map((w) =>
        ask<{ op: string; bans: [string, string, number][]; totals: Totals }>(
          w,
          { op: "poll" },
          "poll",
          10_000,
        ),
      ),
    );
    for (const [name, ip, at] of answers.flatMap((a) => a.bans)) {
      const m = banEvents.get(ip) ?? new Map<number, number>();
      banEvents.set(ip, m);
      const v = index.get(name)!;
      if (!m.has(v)) m.set(v, at);
    }
    return answers.map((a) => a.totals);
  };

  try {
    for (let w = 0; w < WORKERS; w++) await spawnWorker(w);
    ctx.progress(`starting nodes in ${WORKERS} worker processes (${killSize} in the one that is killed)`);
    await Promise.all(
      [0, 1, 2].map((w) =>
        startNodes(
          w,
          graph.names.map((_, v) => v).filter((v) => workerOf(v) === w),
        ),
      ),
    );
    const allConnected = async (): Promise<boolean> => {
      const rows = await syncRows();
      return rows.every((r) => r[2]);
    };
    const syncRows = async (): Promise<SyncRow[]> =>
      (
        await Promise.all(
          live().map((w) => ask<{ op: string; links: SyncRow[] }>(w, { op: "sync" }, "sync", 10_000)),
        )
      ).flatMap((a) => a.links);
    const connectDeadline = performance.now() + 120_000;
    while (!(await allConnected())) {
      if (performance.now() > connectDeadline) throw new Error("friend links did not connect in 120 s");
      await sleep(100);
    }

    // ------------------------------------------------------------ the run
    const ips: string[] = [];
    const origins: number[] = [];
    /** For each report: the nodes that were down when it was made. */
    const downAt: Set<number>[] = [];
    const restarts: { v: number; at: number; missed: number[]; kind: "stop" | "kill" }[] = [];
    const downSince = new Map<number, { from: number; kind: "stop" | "kill" }>();
    const report = async (): Promise<void> => {
      const candidates = [...up];
      const origin = candidates[Math.floor(rand() * candidates.length)]!;
      const r = ips.length;
      const ip = docIp(r);
      const { status } = await ask<{ op: string; status: string }>(
        workers[workerOf(origin)]!,
        { op: "report", node: graph.names[origin]!, ip },
        "reported",
        10_000,
      );
      if (status !== "accepted")
        throw new Error(`origin ${graph.names[origin]} answered ${status} for ${ip}`);
      ips.push(ip);
      origins.push(origin);
      downAt.push(new Set(graph.names.map((_, v) => v).filter((v) => !up.has(v))));
      await sleep(REPORT_GAP_MS);
      if (r % 5 === 4) await drainBans();
    };
    const reports = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await report();
    };
    const markDown = (vs: number[], kind: "stop" | "kill"): void => {
      for (const v of vs) {
        up.delete(v);
        downSince.set(v, { from: ips.length, kind });
      }
    };
    const markRestarted = (vs: number[]): void => {
      for (const v of vs) {
        const down = downSince.get(v)!;
        // The reports made while v was down that v must ban: what it has to get by catch-up.
        const missed: number[] = [];
        for (let r = down.from; r < ips.length; r++)
          if (predict(graph, origins[r]!).banned.has(v)) missed.push(r);
        restarts.push({ v, at: startedAt.get(v)!, missed, kind: down.kind });
        downSince.delete(v);
      }
    };
    const byWorker = (vs: number[]): Map<number, string[]> => {
      const m = new Map<number, string[]>();
      for (const v of vs) m.set(workerOf(v), [...(m.get(workerOf(v)) ?? []), graph.names[v]!]);
      return m;
    };
    const stopNodes = async (vs: number[]): Promise<void> => {
      await drainBans();
      await Promise.all(
        [...byWorker(vs)].map(([w, names]) =>
          ask(workers[w]!, { op: "stopNodes", names }, "stoppedNodes", 30_000),
        ),
      );
      markDown(vs, "stop");
    };
    const restartNodes = async (vs: number[]): Promise<void> => {
      await Promise.all(
        [...byWorker(vs)].map(([w, names]) =>
          startNodes(
            w,
            names.map((n) => index.get(n)!),
          ),
        ),
      );
      markRestarted(vs);
    };

    ctx.progress(`${perPhase} reports with every node up`);
    await reports(perPhase);
    const churnStart = wallMs();
    ctx.progress(`stopping ${stopSize} nodes cleanly; ${perPhase} reports`);
    await stopNodes(stopA);
    await reports(perPhase);
    ctx.progress(
      `killing the worker of ${killSize} nodes (SIGKILL) while reports go on; ${perPhase} reports`,
    );
    await drainBans();
    const crashed = workers[CRASH_WORKER]!;
    const exited = new Promise<void>((resolve) => crashed.once("exit", () => resolve()));
    crashed.kill("SIGKILL");
    markDown(killSet, "kill");
    await reports(Math.floor(perPhase / 2));
    await exited;
    await reports(perPhase - Math.floor(perPhase / 2));
    ctx.progress(`restarting the ${stopSize} stopped nodes; ${perPhase} reports`);
    await restartNodes(stopA);
    await reports(perPhase);
    ctx.progress(`stopping ${stopSize} other nodes; ${perPhase} reports; restarting the killed ones`);
    await stopNodes(stopB);
    await reports(perPhase);
    await spawnWorker(CRASH_WORKER);
    await restartNodes(killSet);
    await reports(perPhase);
    ctx.progress(`restarting the last ${stopSize} stopped nodes, then waiting for convergence`);
    await restartNodes(stopB);
    const lastRestart = Math.max(...restarts.map((r) => r.at));

    // ------------------------------------------------------------ convergence
    // Settled: every link connected, and every node caught up with every friend since both of them
    // (re)started; then the ban lines in the bans logs are read and compared with the prediction.
    const predicted = origins.map((o) => predict(graph, o).banned);
    let syncedAt: number | undefined;
    let rows: SyncRow[] = [];
    const settleDeadline = performance.now() + settleTimeoutMs;
    for (;;) {
      await drainBans();
      rows = await syncRows();
      const converged = rows.every(([, friend, connected, state, caughtUpAt, nodeStart]) => {
        const friendStart = startedAt.get(index.get(friend)!)!;
        return connected && state === "caught-up" && caughtUpAt >= Math.max(nodeStart, friendStart) - 1;
      });
      if (converged) {
        syncedAt = wallMs();
        break;
      }
      if (performance.now() > settleDeadline) break;
      await sleep(POLL_MS);
    }
    // Sync done means every page is applied; the live relay of what it brought may still be under way.
    let previous = "";
    for (;;) {
      await sleep(200);
      const totals = await drainBans();
      const key = JSON.stringify(totals);
      if (key === previous && totals.every((t) => t.queued === 0)) break;
      previous = key;
      if (performance.now() > settleDeadline + 10_000) break;
    }
    await drainBans();
    const lineAnswers = await Promise.all(
      live().map((w) =>
        ask<{ op: string; lines: [string, string, number][] }>(w, { op: "banLines" }, "banLines", 30_000),
      ),
    );
    const lines = new Map<string, Map<number, number>>();
    for (const [name, ip, n] of lineAnswers.flatMap((a) => a.lines)) {
      const m = lines.get(ip) ?? new Map<number, number>();
      lines.set(ip, m);
      m.set(index.get(name)!, n);
    }

    // ------------------------------------------------------------ results
    const scoreAnswers = await Promise.all(
      live().map((w) =>
        ask<{ op: string; scores: Record<string, number[]> }>(w, { op: "scores", ips }, "scores", 60_000),
      ),
    );
    const scores = Object.assign({}, ...scoreAnswers.map((a) => a.scores)) as Record<string, number[]>;
    /** Why a node is missing a ban: its score against the prediction, and what it went through. */
    const explain = (v: number, r: number): string => {
      const name = graph.names[v]!;
      const p = predict(graph, origins[r]!);
      const churn = killSet.includes(v)
        ? "killed"
        : stopA.includes(v)
          ? "stop A"
          : stopB.includes(v)
            ? "stop B"
            : "never down";
      return `${name} (${churn}${downAt[r]!.has(v) ? ", down at the report" : ""}) score ${scores[name]?.[r]} predicted ${p.score[v]} threshold ${graph.threshold[v]}, rejects ${JSON.stringify(rejected[name])}`;
    };
    const names = graph.names;
    const rejectAnswers = await Promise.all(
      live().map((w) =>
        ask<{ op: string; rejected: Record<string, unknown> }>(
          w,
          { op: "rejected", names },
          "rejected",
          30_000,
        ),
      ),
    );
    const rejected = Object.assign({}, ...rejectAnswers.map((a) => a.rejected)) as Record<string, unknown>;
    const mismatches: string[] = [];
    let missing = 0;
    let extra = 0;
    let duplicates = 0;
    let exact = 0;
    ips.forEach((ip, r) => {
      const got = lines.get(ip) ?? new Map<number, number>();
      const miss = [...predicted[r]!].filter((v) => !got.has(v));
      const more = [...got.keys()].filter((v) => !predicted[r]!.has(v));
      for (const n of got.values()) duplicates += n - 1;
      missing += miss.length;
      extra += more.length;
      if (miss.length + more.length === 0) exact++;
      else if (mismatches.length < 10)
        mismatches.push(
          `${ip} from ${graph.names[origins[r]!]}: missing ${miss.map((v) => explain(v, r)).join("; ") || "-"} extra ${more.map((v) => graph.names[v]).join(",") || "-"}`,
        );
    });
    const notSynced = rows.filter(
      ([, friend, connected, state, caughtUpAt, nodeStart]) =>
        !connected ||
        state !== "caught-up" ||
        caughtUpAt < Math.max(nodeStart, startedAt.get(index.get(friend)!)!) - 1,
    );
    const whileDown = downAt.filter((d) => d.size > 0).length;
    const churned = killSize + 2 * stopSize;
    // Per restart: from the node's start to its last ban line among the reports it missed while down.
    const catchUpMs = restarts
      .filter((r) => r.missed.length > 0)
      .map((r) => {
        const times = r.missed.map((m) => banEvents.get(ips[m]!)?.get(r.v));
        return times.every((t) => t !== undefined) ? Math.max(...(times as number[])) - r.at : Number.NaN;
      });
    const catchUpDone = catchUpMs.filter((t) => !Number.isNaN(t));
    const lastBan = Math.max(...[...banEvents.values()].flatMap((m) => [...m.values()]));
    const missedTotal = sum(restarts.map((r) => r.missed.length));

    result.tables.push({
      title: "churn",
      columns: ["", "value"],
      rows: [
        ["nodes / friendships", `${count} / ${graph.edges.length}`],
        [
          "nodes churned",
          `${churned}: ${2 * stopSize} stopped cleanly and restarted (2 rounds of ${stopSize}), ${killSize} killed (SIGKILL of their process) and restarted`,
        ],
        ["reports made", ips.length],
        ["reports made while some node was down", whileDown],
        ["bans the restarted nodes had to get by catch-up", missedTotal],
      ],
      note: `seed ${SEED}; sync_interval default (30 s); first churn to last restart ${fmt((lastRestart - churnStart) / 1000, 1)} s, last restart to every link caught up ${syncedAt === undefined ? "never" : `${fmt((syncedAt - lastRestart) / 1000, 1)} s`}`,
    });
    result.tables.push({
      title: "after the last restart: ban lines in every node's bans log vs the best-path prediction",
      columns: ["", "value"],
      rows: [
        ["reports whose ban set matches the prediction exactly", `${exact}/${ips.length}`],
        ["missing bans (predicted, not written)", missing],
        ["extra bans (written, not predicted)", extra],
        ["duplicate ban lines (same IP written twice by one node)", duplicates],
        ["friend links not caught up at the end", `${notSynced.length}/${rows.length}`],
      ],
      ...(mismatches.length + notSynced.length > 0
        ? {
            note: [
              ...mismatches,
              ...notSynced
                .slice(0, 10)
                .map((r) => `not caught up: ${r[0]} with ${r[1]} (${r[3]}, link ${r[2] ? "up" : "down"})`),
            ].join("\n  "),
          }
        : {}),
    });
    result.tables.push({
      title: "time to convergence (wall clock)",
      columns: ["", "median ms", "max ms"],
      rows: [
        [
          `restarted node: its start → its last missed ban line (${catchUpDone.length}/${catchUpMs.length} restarts)`,
          fmt(median(catchUpDone), 1),
          fmt(Math.max(...catchUpDone), 1),
        ],
        [
          "last restart → every link caught up",
          syncedAt === undefined ? "never" : fmt(syncedAt - lastRestart, 1),
          "",
        ],
        ["last restart → last ban line anywhere", fmt(Math.max(0, lastBan - lastRestart), 1), ""],
      ],
      note: "the restarts are not simultaneous: a node restarted earlier may also get bans relayed live later",
    });
    const pass = exact === ips.length && duplicates === 0 && notSynced.length === 0;
    result.targets.push(
      target("churn: ban sets = prediction", "exact", `${exact}/${ips.length} reports`, exact === ips.length),
      target("churn: each ban line once", "0 duplicates", String(duplicates), duplicates === 0),
      target(
        "churn: every link caught up after the last restart",
        "all",
        `${rows.length - notSynced.length}/${rows.length}`,
        notSynced.length === 0,
      ),
    );
    Object.assign(result.data, {
      seed: SEED,
      nodes: count,
      churned,
      stoppedCleanly: 2 * stopSize,
      killed: killSize,
      reports: ips.length,
      reportsWhileDown: whileDown,
      missedByRestarted: missedTotal,
      exactReports: exact,
      missing,
      extra,
      duplicates,
      notSynced: notSynced.length,
      catchUpMs: { median: median(catchUpDone), max: Math.max(...catchUpDone), measured: catchUpDone.length },
      syncedAfterLastRestartMs: syncedAt === undefined ? null : syncedAt - lastRestart,
      lastBanAfterLastRestartMs: lastBan - lastRestart,
      churnToLastRestartMs: lastRestart - churnStart,
      mismatches,
      pass,
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
