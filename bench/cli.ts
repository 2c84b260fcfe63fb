/**
 * Wall time of `node bin/f2bp2p.js -c CONFIG report IP` (what fail2ban runs on every ban) on both of
 * its paths: against a running node, and with the node stopped (the report goes to the spool,
 * written and fsync'ed), interleaved with `node -e 0` (the floor: starting Node at all) and `--help`
 * (the full CLI with yargs), in the same run.
 */
import { spawnSync } from "node:child_process";
import { loadNodeConfig } from "../src/config/load.js";
import { writeNetworkFiles } from "../src/demo/local-network.js";
import {
  type BenchContext,
  type BenchResult,
  CLI,
  docIp,
  fmt,
  median,
  newResult,
  percentile,
  removeDir,
  target,
  trackDir,
} from "./common.js";
import { type NodeProcess, spawnNode, stopNodes, waitReady } from "./processes.js";

function timed(args: readonly string[], check: (stdout: string) => boolean): number {
  const start = performance.now();
  const run = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 15_000 });
  const ms = performance.now() - start;
  if (run.status !== 0 || !check(run.stdout)) {
    throw new Error(`'node ${args.join(" ")}' failed (status ${run.status}): ${run.stderr || run.stdout}`);
  }
  return ms;
}

export async function cli(ctx: BenchContext): Promise<BenchResult> {
  const result = newResult("cli", "`f2bp2p report` wall time vs `node -e 0`");
  const runs = ctx.quick ? 5 : 25;
  // "solo" runs; "down" never does, so its reports go to its spool folder.
  const files = await writeNetworkFiles({ nodes: [{ name: "solo" }, { name: "down" }], links: [] });
  trackDir(files.dir);
  const config = loadNodeConfig(files.configs.get("solo")!);
  const downConfig = loadNodeConfig(files.configs.get("down")!);
  let node: NodeProcess | undefined;
  try {
    node = spawnNode("solo", config.file, config.controlSocket);
    await waitReady(node, 20_000);
    const times = {
      bare: [] as number[],
      report: [] as number[],
      spool: [] as number[],
      help: [] as number[],
    };
    const commands = {
      bare: () => timed(["-e", "0"], () => true),
      report: (i: number) =>
        timed([CLI, "-c", config.file, "report", docIp(i), "--jail", "sshd"], (out) =>
          out.includes("accepted"),
        ),
      spool: (i: number) =>
        timed([CLI, "-c", downConfig.file, "report", docIp(i), "--jail", "sshd"], (out) =>
          out.includes(`queued in ${downConfig.spoolDir}/`),
        ),
      help: () => timed([CLI, "--help"], (out) => out.includes("report")),
    };
    // One untimed round warms the page cache, then the three commands take turns in a rotating order.
    commands.bare();
    commands.report(10_000);
    commands.spool(10_000);
    commands.help();
    ctx.progress(`${runs} interleaved rounds`);
    const order = ["bare", "report", "spool", "help"] as const;
    for (let i = 0; i < runs; i++) {
      for (let j = 0; j < order.length; j++) {
        const which = order[(i + j) % order.length]!;
        times[which].push(which === "report" || which === "spool" ? commands[which](i) : commands[which]());
      }
    }
    const bare = median(times.bare);
    const row = (label: string, values: number[]): (string | number)[] => [
      label,
      fmt(median(values), 1),
      fmt(percentile(values, 90), 1),
      fmt(Math.min(...values), 1),
      `${fmt(median(values) / bare, 2)}×`,
    ];
    result.tables.push({
      title: `wall ms per command, ${runs} interleaved runs each`,
      columns: ["command", "median ms", "p90 ms", "min ms", "÷ node -e 0"],
      rows: [
        row("node -e 0 (baseline)", times.bare),
        row("f2bp2p -c CONFIG report IP --jail sshd (node runs)", times.report),
        row("f2bp2p -c CONFIG report IP --jail sshd (node down: spooled)", times.spool),
        row("f2bp2p --help (reference)", times.help),
      ],
      note: "each report is a new IP: answered 'accepted' by a running `f2bp2p run` over its control socket, or (node down) written to the spool folder with fsync",
    });
    const ratio = median(times.report) / bare;
    const spoolRatio = median(times.spool) / bare;
    result.targets.push(target("report ÷ node -e 0", "≤ 1.5×", `${fmt(ratio, 2)}×`, ratio <= 1.5));
    result.targets.push(
      target(
        "report, node down (spooled) ÷ node -e 0",
        "≤ 1.5×",
        `${fmt(spoolRatio, 2)}×`,
        spoolRatio <= 1.5,
      ),
    );
    Object.assign(result.data, {
      runs,
      medianMs: {
        nodeE0: bare,
        report: median(times.report),
        spool: median(times.spool),
        help: median(times.help),
      },
      ratio: { report: ratio, spool: spoolRatio, help: median(times.help) / bare },
      samplesMs: times,
    });
    return result;
  } finally {
    if (node) await stopNodes([node]);
    removeDir(files.dir);
  }
}
