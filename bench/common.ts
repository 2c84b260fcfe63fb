/**
 * Shared pieces of the benchmarks: result shapes, statistics, tables, a seeded PRNG, documentation-range
 * attacker addresses, and the cleanup registry that kills child processes and removes temp dirs.
 */
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseIp } from "../src/protocol/ip.js";

/** Repository root: this file runs as dist/bench/common.js. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI = path.join(REPO_ROOT, "bin", "f2bp2p.js");

export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
  readonly note?: string;
}

export interface Target {
  readonly name: string;
  readonly target: string;
  readonly value: string;
  readonly pass: boolean;
}

export interface BenchResult {
  readonly name: string;
  readonly title: string;
  readonly tables: Table[];
  readonly targets: Target[];
  /** Machine-readable numbers, as they go into the JSON file. */
  readonly data: Record<string, unknown>;
  readonly notes: string[];
  seconds?: number;
  error?: string;
}

export interface BenchContext {
  readonly quick: boolean;
  /** Results of benchmarks already run in this run, by name. */
  readonly results: ReadonlyMap<string, BenchResult>;
  readonly progress: (text: string) => void;
}

export interface Benchmark {
  readonly name: string;
  readonly title: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}

export function newResult(name: string, title: string): BenchResult {
  return { name, title, tables: [], targets: [], data: {}, notes: [] };
}

// ---------------------------------------------------------------- statistics

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Percentile by linear interpolation between closest ranks; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : sum(values) / values.length;
}

// ---------------------------------------------------------------- formatting

/** A number with a sensible count of digits and thousands separators. */
export function fmt(value: number, digits?: number): string {
  if (!Number.isFinite(value)) return "—";
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function fmtBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "—";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${fmt(value, unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function mark(pass: boolean): string {
  return pass ? "✓" : "✗";
}

export function target(name: string, targetText: string, value: string, pass: boolean): Target {
  return { name, target: targetText, value, pass };
}

export function renderTable(table: Table): string {
  const cells = [table.columns.map(String), ...table.rows.map((r) => r.map(String))];
  const widths = table.columns.map((_, c) => Math.max(...cells.map((row) => (row[c] ?? "").length)));
  const line = (row: readonly string[]): string =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
  const out = [table.title, line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const row of cells.slice(1)) out.push(line(row));
  if (table.note) out.push(`  ${table.note}`);
  return out.join("\n");
}

export function renderResult(result: BenchResult): string {
  const parts = [
    `== ${result.name}: ${result.title}${result.seconds ? ` (${fmt(result.seconds, 1)} s)` : ""}`,
  ];
  for (const table of result.tables) parts.push(renderTable(table));
  if (result.targets.length > 0) {
    parts.push(
      renderTable({
        title: "targets",
        columns: ["target", "wanted", "measured", ""],
        rows: result.targets.map((t) => [t.name, t.target, t.value, mark(t.pass)]),
      }),
    );
  }
  for (const note of result.notes) parts.push(`  note: ${note}`);
  if (result.error) parts.push(`  ERROR: ${result.error}`);
  return parts.join("\n\n");
}

// ---------------------------------------------------------------- randomness and addresses

/** mulberry32: small, fast, seeded; the same seed gives the same network every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randInt(rand: () => number, low: number, high: number): number {
  return low + Math.floor(rand() * (high - low + 1));
}

const V4_NETS = ["192.0.2", "198.51.100", "203.0.113"];

/** This host's own addresses: a node never bans or reports them, so the benchmarks must not use them. */
function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) out.add(parseIp(a.address.split("%")[0]!)?.text ?? a.address);
  }
  return out;
}

const LOCAL = localAddresses();
const V4_ADDRESSES = V4_NETS.flatMap((net) =>
  Array.from({ length: 254 }, (_, h) => `${net}.${h + 1}`),
).filter((ip) => !LOCAL.has(ip));
/** Distinct IPv4 addresses docIp gives before it moves on to IPv6. */
export const DOC_IPV4_COUNT = V4_ADDRESSES.length;

/**
 * The i-th distinct attacker address from the documentation ranges only: first the three IPv4 /24s
 * (hosts .1–.254), then 2001:db8::/32; never one of this host's own addresses (a test machine may
 * itself sit in 192.0.2.0/24). Canonical text, as parseIp writes it.
 */
export function docIp(i: number): string {
  if (i < DOC_IPV4_COUNT) return V4_ADDRESSES[i]!;
  for (let n = i - DOC_IPV4_COUNT + 1; ; n += 0x1000000) {
    const text = parseIp(
      `2001:db8:${((n / 0x100000000) & 0xffff).toString(16)}:${((n / 0x10000) & 0xffff).toString(16)}::${(n & 0xffff).toString(16)}`,
    )!.text;
    if (!LOCAL.has(text)) return text;
  }
}

// ---------------------------------------------------------------- waiting, bounded

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it returns true; throws after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 10,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Absolute wall-clock milliseconds with sub-millisecond resolution; comparable across processes. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

// ---------------------------------------------------------------- cleanup

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

export function trackChild<C extends ChildProcess>(child: C): C {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

export function trackDir(dir: string): string {
  dirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Asks a child to stop (SIGTERM), then kills it (SIGKILL) if it has not exited in `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Last resort, synchronous: used on exit and on signals. Kills only the children this run started. */
export function cleanupNow(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  children.clear();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

let installed = false;
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on("exit", cleanupNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      cleanupNow();
      process.exit(130);
    });
  }
}
