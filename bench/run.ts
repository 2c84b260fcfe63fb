/**
 * f2bp2p benchmarks. `npm run bench` runs every benchmark; `-- --quick` a small version of each (under
 * a minute in all); `-- --only NAME[,NAME]` some; `-- --json FILE` writes the results there instead of
 * bench/results.json. Prints one table per benchmark. Exits 0 when every benchmark ran (whether or
 * not it met its targets) and 1 when one of them failed to run.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { anchors } from "./anchors.js";
import { catchUp } from "./catch-up.js";
import { cli } from "./cli.js";
import {
  type Benchmark,
  type BenchResult,
  cleanupNow,
  installCleanup,
  newResult,
  REPO_ROOT,
  renderResult,
} from "./common.js";
import { flood } from "./flood.js";
import { hops } from "./hops.js";
import { ingest } from "./ingest.js";
import { network } from "./network.js";
import { networkChurn } from "./network-churn.js";
import { signatures } from "./signatures.js";
import { state } from "./state.js";

export const BENCHMARKS: readonly Benchmark[] = [
  { name: "signatures", title: "Ed25519 sign/verify: tweetnacl vs node:crypto", run: signatures },
  { name: "ingest", title: "one node fed by one friend", run: ingest },
  { name: "flood", title: "one friend floods, another's report waits", run: flood },
  { name: "hops", title: "latency along a chain of 10 node processes", run: hops },
  { name: "cli", title: "`f2bp2p report` wall time", run: cli },
  { name: "catch-up", title: "a friend that was down catches up", run: catchUp },
  { name: "network", title: "random friend graph on loopback", run: network },
  {
    name: "network-churn",
    title: "random friend graph, nodes stopped, killed and restarted",
    run: networkChurn,
  },
  { name: "state", title: "ledger with many IPs", run: state },
  { name: "anchors", title: "other tools, for comparison", run: anchors },
];

interface Options {
  readonly quick: boolean;
  readonly only: readonly string[] | null;
  readonly json: string;
}

const USAGE = `usage: node dist/bench/run.js [--quick] [--only NAME[,NAME…]] [--json FILE]
benchmarks: ${BENCHMARKS.map((b) => b.name).join(", ")}`;

function parseArgs(argv: readonly string[]): Options {
  let quick = false;
  let only: string[] | null = null;
  let json = path.join(REPO_ROOT, "bench", "results.json");
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (name: string): string => {
      const inline = arg.startsWith(`${name}=`) ? arg.slice(name.length + 1) : undefined;
      if (inline !== undefined) return inline;
      const next = argv[++i];
      if (next === undefined) throw new Error(`${name} needs a value\n${USAGE}`);
      return next;
    };
    if (arg === "--quick") quick = true;
    else if (arg === "--only" || arg.startsWith("--only=")) {
      only = [...(only ?? []), ...value("--only").split(",").filter(Boolean)];
    } else if (arg === "--json" || arg.startsWith("--json=")) json = path.resolve(value("--json"));
    else if (arg === "--help" || arg === "-h") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  for (const name of only ?? []) {
    if (!BENCHMARKS.some((b) => b.name === name)) throw new Error(`no benchmark named ${name}\n${USAGE}`);
  }
  return { quick, only, json };
}

export function machineInfo(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    totalMemoryBytes: os.totalmem(),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg(),
    date: new Date().toISOString(),
  };
}

async function main(): Promise<number> {
  installCleanup();
  const options = parseArgs(process.argv.slice(2));
  const machine = machineInfo();
  process.stdout.write(
    `f2bp2p benchmarks${options.quick ? " (quick)" : ""}: ${machine.cpuModel}, ${machine.cores} cores, ` +
      `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${machine.date}\n\n`,
  );
  const results = new Map<string, BenchResult>();
  const started = performance.now();
  let failed = 0;
  for (const bench of BENCHMARKS) {
    if (options.only !== null && !options.only.includes(bench.name)) continue;
    const t0 = performance.now();
    let result: BenchResult;
    try {
      result = await bench.run({
        quick: options.quick,
        results,
        progress: (text) => process.stderr.write(`  [${bench.name}] ${text}\n`),
      });
    } catch (err: unknown) {
      failed++;
      result = newResult(bench.name, bench.title);
      result.error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    }
    result.seconds = (performance.now() - t0) / 1000;
    results.set(bench.name, result);
    process.stdout.write(`${renderResult(result)}\n\n`);
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const output = {
    machine,
    quick: options.quick,
    only: options.only,
    totalSeconds,
    results: Object.fromEntries(results),
  };
  fs.mkdirSync(path.dirname(options.json), { recursive: true });
  fs.writeFileSync(options.json, `${JSON.stringify(output, null, 2)}\n`);
  process.stdout.write(`total ${totalSeconds.toFixed(1)} s; results written to ${options.json}\n`);
  if (failed > 0) process.stdout.write(`${failed} benchmark(s) failed to run\n`);
  return failed > 0 ? 1 : 0;
}

main()
  .then((code) => {
    cleanupNow();
    process.exit(code);
  })
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    cleanupNow();
    process.exit(2);
  });
