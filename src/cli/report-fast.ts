import fs from "node:fs";
import path from "node:path";
import {
  DEFAULT_CONFIG_PATH,
  DEFAULT_CONTROL_SOCKET,
  DEFAULT_STATE_DIR,
  defaultSpoolDir,
} from "../config/defaults.js";
import type { ControlResponse } from "../node/control-protocol.js";
import { parseIp } from "../protocol/ip.js";
import { jailLabel } from "../protocol/jail.js";
import type { SpooledReport } from "../spool/spool-file.js";
import { askNode, ControlAccessError, NodeNotRunningError } from "./control-client.js";
import { EXIT_FAILURE, EXIT_NOT_WRITTEN, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import { jsonDocument } from "./output.js";
import type { LeanReportArgs } from "./report-args.js";

const DEFAULT_CONFIG = DEFAULT_CONFIG_PATH;

/**
 * `f2bp2p report IP [--jail NAME]`: hands one ban to the running node and exits 0 once the node has
 * acknowledged it (the bans log line, if any, is written by then). When the node gives no answer
 * (not running, starting, restarting, hung past the timeout) or cannot store the report, the report
 * is stored in the spool folder, which the node takes in when it can, and the exit is still 0.
 * Non-zero: 2 for a bad report, 1 when it could not be spooled either (the message says why), 4 when
 * the node stored and shared the report but could not write the ban line here yet. Reads only
 * `control_socket`, `state_dir` and `spool_dir` from the config: the node validated the whole file
 * when it started.
 */
export async function runReport(args: LeanReportArgs): Promise<number> {
  // When fail2ban banned: a spooled report keeps this time, however long the node took to fail.
  const time = Date.now();
  const ip = parseIp(args.ip);
  if (ip === null) {
    process.stderr.write(`f2bp2p report: '${args.ip}' is not an IPv4 or IPv6 address\n`);
    return EXIT_USAGE;
  }
  // The jail name is only a label: any name fail2ban gives becomes one (docs/protocol.md 5.3).
  const jail = jailLabel(args.jail ?? "");
  const paths = await reportPathsOf(args.config ?? process.env.F2BP2P_CONFIG ?? DEFAULT_CONFIG);
  if ("error" in paths) {
    process.stderr.write(`f2bp2p report: not reported and not spooled: ${paths.error}\n`);
    return EXIT_FAILURE;
  }
  const spool = (why: string): Promise<number> =>
    spoolInstead(paths.spoolDir, { ip: ip.text, jail, time }, why, args.json);
  let answer: ControlResponse;
  try {
    answer = await askNode(paths.controlSocket, {
      op: "report",
      ip: ip.text,
      ...(jail !== "" ? { jail } : {}),
    });
  } catch (err: unknown) {
    // Permission denied: this user may not reach the node, nor would the node read its spool file.
    if (err instanceof ControlAccessError) {
      process.stderr.write(`f2bp2p report: ${err.message}\n`);
      return EXIT_FAILURE;
    }
    if (!(err instanceof NodeNotRunningError)) throw err;
    return spool(err.message);
  }
  if (!answer.ok) {
    // The node could not store it (disk, I/O): the spool may still take it.
    if (answer.error === "store-failed") return spool(`the node could not store it: ${answer.message}`);
    process.stderr.write(`f2bp2p report: ${answer.message}\n`);
    return EXIT_USAGE;
  }
  if (answer.status === "ignored") {
    process.stdout.write(
      args.json
        ? jsonDocument({ ip: answer.ip, result: "ignored", reason: answer.reason })
        : `${answer.ip}: not reported: ${answer.reason}\n`,
    );
  } else if (answer.status === "accepted" || answer.status === "duplicate") {
    if (args.json) {
      const { ok: _ok, status, ip: reported, ...rest } = answer;
      process.stdout.write(jsonDocument({ ip: reported, result: status, ...rest }));
    }
    if (answer.banPending !== undefined) {
      if (!args.json)
        process.stdout.write(`${answer.ip}: ${answer.status}, score ${answer.score}, sent to friends\n`);
      process.stderr.write(
        `f2bp2p report: ban not written here yet: ${answer.banPending}; the node writes it when it can\n`,
      );
      return EXIT_NOT_WRITTEN;
    }
    const state = answer.banned ? "banned here" : "not banned here";
    if (!args.json) process.stdout.write(`${answer.ip}: ${answer.status}, score ${answer.score}, ${state}\n`);
  }
  return EXIT_OK;
}

/** Stores the report in the spool; exit 0 with where, or 1 with why it could not. */
async function spoolInstead(dir: string, report: SpooledReport, why: string, json: boolean): Promise<number> {
  // Loaded only on this path: the usual answered report does not pay for it.
  const { spoolReport } = await import("../spool/write.js");
  const spooled = spoolReport(dir, report);
  if (!spooled.ok) {
    process.stderr.write(`f2bp2p report: ${why}\nf2bp2p report: not spooled: ${spooled.reason}\n`);
    return EXIT_FAILURE;
  }
  if (spooled.warning !== undefined) process.stderr.write(`f2bp2p report: warning: ${spooled.warning}\n`);
  process.stdout.write(
    json
      ? jsonDocument({ ip: report.ip, result: "queued", spoolFile: spooled.file, why })
      : `${report.ip}: queued in ${spooled.file}; the node takes it in when it runs (${why})\n`,
  );
  return EXIT_OK;
}

/** A plain one-line `KEY: PATH` at the top level, the form every config in practice uses. */
function plainLinePattern(key: string): RegExp {
  return new RegExp(
    `^${key}:[ \\t]*(?:"([^"\\\\]*)"|'([^']*)'|([^\\s#'"|>&*!%@\`{[][^#\\n]*?))[ \\t]*(?:#.*)?$`,
    "m",
  );
}

/** The keys the lean path reads. */
const REPORT_KEYS = ["control_socket", "state_dir", "spool_dir"] as const;
type ReportKey = (typeof REPORT_KEYS)[number];
const PLAIN_LINES = new Map(REPORT_KEYS.map((key) => [key, plainLinePattern(key)]));

/**
 * The value of a plain top-level `KEY:` line; undefined when the key is absent; null when the key
 * is written in a form only a YAML parser reads right.
 */
export function plainSetting(text: string, key: ReportKey): string | null | undefined {
  const plain = PLAIN_LINES.get(key)!.exec(text);
  if (plain) return plain[1] ?? plain[2] ?? plain[3] ?? null;
  return new RegExp(`^${key}\\s*:`, "m").test(text) ? null : undefined;
}

interface ReportPaths {
  readonly controlSocket: string;
  readonly spoolDir: string;
}

/**
 * The control socket and spool folder from the config, absolute. Loading the YAML library costs
 * about as much as the rest of this command, so plain `key: value` lines are read directly and the
 * full parser is loaded only for anything fancier.
 */
async function reportPathsOf(configFile: string): Promise<ReportPaths | { error: string }> {
  const file = path.resolve(configFile);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err: unknown) {
    return { error: `cannot read config ${file}: ${(err as Error).message}` };
  }
  const values = new Map<ReportKey, unknown>(REPORT_KEYS.map((key) => [key, plainSetting(text, key)]));
  if ([...values.values()].includes(null)) {
    try {
      const YAML = await import("yaml");
      const parsed = YAML.parse(text) as Record<string, unknown> | null;
      for (const key of REPORT_KEYS) values.set(key, parsed?.[key]);
    } catch (err: unknown) {
      return { error: `cannot read config ${file}: ${(err as Error).message}` };
    }
  }
  const base = path.dirname(file);
  const resolved: Partial<Record<ReportKey, string>> = {};
  for (const key of REPORT_KEYS) {
    const value = values.get(key);
    if (value === undefined || value === null) continue;
    if (typeof value !== "string" || value === "") return { error: `${file}: ${key} must be a path` };
    resolved[key] = path.resolve(base, value);
  }
  const stateDir = resolved.state_dir ?? DEFAULT_STATE_DIR;
  return {
    controlSocket: resolved.control_socket ?? DEFAULT_CONTROL_SOCKET,
    spoolDir: resolved.spool_dir ?? defaultSpoolDir(stateDir),
  };
}
