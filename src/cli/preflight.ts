import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import * as zmq from "zeromq";
import type { ConfigProblem } from "../config/errors.js";
import type { NodeConfig } from "../config/types.js";
import { parseEndpoint } from "../config/validate.js";
import { sharedNeverBan } from "../node/shared-never-ban.js";
import { auditPermissions } from "./permissions.js";

/**
 * What `run` would refuse beyond the files' contents, found without starting a node: `check` runs
 * it so that "ok" means the node starts. Problems stop the node; notes are printed and do not.
 */
export interface Preflight {
  readonly problems: ConfigProblem[];
  readonly notes: string[];
  /** Files or folders others could change (permissions.ts); the node starts anyway. */
  readonly warnings: string[];
  /** The never-ban list `run` will send friends (docs/protocol.md section 18), as range text. */
  readonly neverBanShared: string[];
}

/** The permission findings as `run` and `check` use them: refusals as problems, the rest as lines. */
export function permissionFindings(
  config: NodeConfig,
  euid = process.geteuid?.() ?? 0,
): { problems: ConfigProblem[]; warnings: string[] } {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  for (const finding of auditPermissions(config, euid)) {
    if (finding.level === "warn") warnings.push(`${finding.path}: ${finding.message}`);
    else
      problems.push({
        file: finding.path,
        key: "",
        code: "unsafe",
        expected: "a file or folder only the node's user (or root) can change",
        got: finding.message,
      });
  }
  return { problems, warnings };
}

export async function preflight(
  config: NodeConfig,
  interfaces: ReturnType<typeof os.networkInterfaces> = os.networkInterfaces(),
): Promise<Preflight> {
  const { problems, warnings } = permissionFindings(config);
  const notes: string[] = [];
  if (!zmq.capability.curve) {
    problems.push({
      file: config.file,
      key: "",
      code: "unusable",
      expected: "a ZeroMQ build with CURVE support (f2bp2p never runs unencrypted)",
      got: "libzmq without CURVE",
    });
  }
  const listen = await tryBind(config.listen);
  if (listen === "EADDRINUSE") {
    notes.push(`listen: ${config.listen} is in use now (fine if that is this node, running)`);
  } else if (listen !== undefined) {
    problems.push({
      file: config.file,
      key: "listen",
      code: "unusable",
      expected: "an address of this host that the node may bind",
      got: `${config.listen}: ${describeBindError(listen)}`,
    });
  }
  if (config.metricsListen !== null) {
    const { host, port } = config.metricsListen;
    const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    const metrics = await tryBindHost(host, port);
    if (metrics === "EADDRINUSE") {
      notes.push(`metrics_listen: ${where} is in use now (fine if that is this node, running)`);
    } else if (metrics !== undefined) {
      problems.push({
        file: config.file,
        key: "metrics_listen",
        code: "unusable",
        expected: "an address of this host that the node may bind",
        got: `${where}: ${describeBindError(metrics)}`,
      });
    }
  }
  // The node starts without its logs (it retries the bans log and says so), not without its socket.
  for (const [key, file] of [
    ["bans_log", config.bansLog],
    ["auth_log", config.authLog],
  ] as const) {
    const folder = writableFolder(path.dirname(file));
    if (folder !== undefined) warnings.push(`${key}: ${folder.expected}, got ${folder.got}`);
  }
  // The same list `run` sends friends (protocol section 18): what does not fit is left out.
  const { ranges, left } = sharedNeverBan(config.shareNeverBan, config.shareOwnAddresses, interfaces);
  if (left.length > 0)
    warnings.push(
      `share_never_ban: the never-ban list for friends holds at most 64 entries; this host's addresses ${left.join(", ")} do not fit and are not sent (share fewer ranges, or set share_own_addresses: false)`,
    );
  const socketFolder = writableFolder(path.dirname(config.controlSocket));
  if (socketFolder !== undefined)
    problems.push({ file: config.file, key: "control_socket", code: "unusable", ...socketFolder });
  const state = writableFolder(config.stateDir);
  if (state !== undefined) problems.push({ file: config.file, key: "state_dir", code: "unusable", ...state });
  return { problems, notes, warnings, neverBanShared: ranges.map((r) => r.text) };
}

/** Binds the listen endpoint for a moment as libzmq would; returns the error code, if any. */
async function tryBind(endpoint: string): Promise<string | undefined> {
  const parsed = parseEndpoint(endpoint, true);
  if (!parsed.ok) return "EINVAL";
  const { host, port } = parsed.value;
  return tryBindHost(host === "*" ? undefined : host, port);
}

/** Binds HOST:PORT (every address when HOST is undefined) for a moment; returns the error code, if any. */
async function tryBindHost(host: string | undefined, port: number): Promise<string | undefined> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port, exclusive: true }, resolve);
    });
    return undefined;
  } catch (err: unknown) {
    return (err as NodeJS.ErrnoException).code ?? "EINVAL";
  } finally {
    server.close();
  }
}

function describeBindError(code: string): string {
  switch (code) {
    case "EADDRNOTAVAIL":
      return "not an address of this host";
    case "EACCES":
      return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "the name does not resolve";
    case "EAFNOSUPPORT":
      return "this host has no IPv6";
    default:
      return code;
  }
}

/**
 * Whether the node can create files in `folder`: it exists and is writable, or the nearest existing
 * folder above it is (the node creates the rest). Returns the problem's words, if any.
 */
function writableFolder(folder: string): { expected: string; got: string } | undefined {
  const expected = "a folder the node can write to (or create)";
  let existing = folder;
  while (!fs.existsSync(existing)) existing = path.dirname(existing);
  if (!fs.statSync(existing).isDirectory()) return { expected, got: `${existing} is not a folder` };
  try {
    fs.accessSync(existing, fs.constants.W_OK | fs.constants.X_OK);
    return undefined;
  } catch {
    return { expected, got: `${existing}: permission denied` };
  }
}
