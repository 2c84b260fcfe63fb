import fs from "node:fs";
import path from "node:path";
import { JAIL_NAME_PATTERN } from "../protocol/constants.js";
import { parseIp } from "../protocol/ip.js";
import { askNode, ControlAccessError, NodeNotRunningError } from "./control-client.js";
import { EXIT_FAILURE, EXIT_NOT_WRITTEN, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import type { LeanReportArgs } from "./report-args.js";

const DEFAULT_CONFIG = "/etc/f2bp2p/f2bp2p.yaml";
const DEFAULT_SOCKET = "/run/f2bp2p/control.sock";

/**
 * `f2bp2p report IP [--jail NAME]`: hands one ban to the running node and exits 0 once the node has
 * acknowledged it (the bans log line, if any, is written by then). Reads only `control_socket` from
 * the config: the node validated the whole file when it started.
 */
export async function runReport(args: LeanReportArgs): Promise<number> {
  const ip = parseIp(args.ip);
  if (ip === null) {
    process.stderr.write(`f2bp2p report: '${args.ip}' is not an IPv4 or IPv6 address\n`);
    return EXIT_USAGE;
  }
  if (args.jail !== undefined && !JAIL_NAME_PATTERN.test(args.jail)) {
    process.stderr.write(`f2bp2p report: jail '${args.jail}' must be 1-32 of [A-Za-z0-9._-]\n`);
    return EXIT_USAGE;
  }
  const socketPath = await controlSocketOf(args.config ?? process.env.F2BP2P_CONFIG ?? DEFAULT_CONFIG);
  if (typeof socketPath !== "string") {
    process.stderr.write(`f2bp2p report: ${socketPath.error}\n`);
    return EXIT_USAGE;
  }
  try {
    const answer = await askNode(socketPath, {
      op: "report",
      ip: ip.text,
      ...(args.jail ? { jail: args.jail } : {}),
    });
    if (!answer.ok) {
      process.stderr.write(`f2bp2p report: ${answer.message}\n`);
      return answer.error === "store-failed" ? EXIT_NOT_WRITTEN : EXIT_USAGE;
    }
    if (answer.status === "ignored") {
      process.stdout.write(`${answer.ip}: not reported: ${answer.reason}\n`);
    } else if (answer.status === "accepted" || answer.status === "duplicate") {
      if (answer.banPending !== undefined) {
        process.stdout.write(`${answer.ip}: ${answer.status}, score ${answer.score}, sent to friends\n`);
        process.stderr.write(
          `f2bp2p report: ban not written here yet: ${answer.banPending}; the node writes it when it can\n`,
        );
        return EXIT_NOT_WRITTEN;
      }
      const state = answer.banned ? "banned here" : "not banned here";
      process.stdout.write(`${answer.ip}: ${answer.status}, score ${answer.score}, ${state}\n`);
    }
    return EXIT_OK;
  } catch (err: unknown) {
    if (!(err instanceof NodeNotRunningError || err instanceof ControlAccessError)) throw err;
    process.stderr.write(`f2bp2p report: ${err.message}\n`);
    return EXIT_FAILURE;
  }
}

/** A plain one-line `control_socket: PATH` at the top level, the form every config in practice uses. */
const PLAIN_SOCKET_LINE =
  /^control_socket:[ \t]*(?:"([^"\\]*)"|'([^']*)'|([^\s#'"|>&*!%@`{[][^#\n]*?))[ \t]*(?:#.*)?$/m;

/**
 * The value of a plain top-level `control_socket:` line; the default when the key is absent; null
 * when the key is written in a form only a YAML parser reads right.
 */
export function plainControlSocket(text: string): string | null {
  const plain = PLAIN_SOCKET_LINE.exec(text);
  if (plain) return plain[1] ?? plain[2] ?? plain[3] ?? null;
  return /^control_socket\s*:/m.test(text) ? null : DEFAULT_SOCKET;
}

/**
 * The control socket path from the config. Loading the YAML library costs about as much as the rest
 * of this command, so a plain `control_socket:` line is read directly and the full parser is loaded
 * only for anything fancier.
 */
async function controlSocketOf(configFile: string): Promise<string | { error: string }> {
  const file = path.resolve(configFile);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err: unknown) {
    return { error: `cannot read config ${file}: ${(err as Error).message}` };
  }
  let value: unknown = plainControlSocket(text);
  if (value === null) {
    try {
      const YAML = await import("yaml");
      value = (YAML.parse(text) as Record<string, unknown> | null)?.control_socket ?? DEFAULT_SOCKET;
    } catch (err: unknown) {
      return { error: `cannot read config ${file}: ${(err as Error).message}` };
    }
  }
  if (typeof value !== "string" || value === "") return { error: `${file}: control_socket must be a path` };
  return path.resolve(path.dirname(file), value);
}
