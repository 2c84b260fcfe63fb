import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Logger } from "../util/logger.js";
import { unsafeFolder } from "../util/unsafe-folder.js";
import {
  type ControlRequest,
  type ControlResponse,
  IMPORT_BATCH,
  MAX_CONTROL_LINE,
} from "./control-protocol.js";

export interface ControlHandler {
  handle(request: ControlRequest): ControlResponse;
}

/** Mode of the control socket's folder when the node creates it (never left to the umask). */
export const CONTROL_FOLDER_MODE = 0o750;
/** Mode of the socket itself: the node's group (the fail2ban action's) may report. */
export const CONTROL_SOCKET_MODE = 0o660;

/**
 * Unix socket for local commands (`f2bp2p report`, `f2bp2p status`), mode 0660 so the fail2ban
 * action's group can use it. A stale socket from a crash is replaced; a live one means another node
 * already runs on this config, and start() fails. The node refuses a folder that other users can
 * write (they could put their own socket in its place and answer root's `report`) and anything but
 * a socket at the path (a symlink planted there is never followed nor removed).
 */
export class ControlServer {
  readonly #file: string;
  readonly #handler: ControlHandler;
  readonly #log: Logger;
  readonly #server: net.Server;

  constructor(file: string, handler: ControlHandler, log: Logger) {
    this.#file = file;
    this.#handler = handler;
    this.#log = log;
    this.#server = net.createServer((socket) => this.#serve(socket));
  }

  async start(): Promise<void> {
    const folder = path.dirname(this.#file);
    if (!fs.existsSync(folder)) {
      fs.mkdirSync(folder, { recursive: true, mode: CONTROL_FOLDER_MODE });
      fs.chmodSync(folder, CONTROL_FOLDER_MODE);
    }
    const unsafe = unsafeFolder(folder);
    if (unsafe !== undefined) throw new Error(`refusing the control socket folder ${folder}: ${unsafe}`);
    await removeStaleSocket(this.#file);
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#file, () => resolve());
    });
    fs.chmodSync(this.#file, CONTROL_SOCKET_MODE);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #serve(socket: net.Socket): void {
    let buffered = "";
    socket.setEncoding("utf8");
    socket.setTimeout(5000, () => socket.destroy());
    socket.on("error", () => socket.destroy());
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf("\n");
      if (newline < 0 && buffered.length <= MAX_CONTROL_LINE) return;
      socket.removeAllListeners("data");
      const response =
        newline < 0 || newline > MAX_CONTROL_LINE
          ? badRequest("request line too long")
          : this.#answer(buffered.slice(0, newline));
      socket.end(`${JSON.stringify(response)}\n`);
    });
  }

  #answer(line: string): ControlResponse {
    const request = parseRequest(line);
    if ("error" in request) return request;
    try {
      return this.#handler.handle(request);
    } catch (err: unknown) {
      this.#log.error("bug: control request failed", { error: String(err) });
      return badRequest("internal error");
    }
  }
}

function badRequest(message: string): Extract<ControlResponse, { ok: false }> {
  return { ok: false, error: "bad-request", message };
}

/** Validates a request line; the socket is local but its input is still checked field by field. */
export function parseRequest(line: string): ControlRequest | Extract<ControlResponse, { ok: false }> {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return { ok: false, error: "bad-request", message: "not JSON" };
  }
  if (typeof data !== "object" || data === null)
    return { ok: false, error: "bad-request", message: "not an object" };
  const { op, ip, jail, reason } = data as Record<string, unknown>;
  if (op === "status") return { op };
  if (op === "import") return parseImport(data as Record<string, unknown>);
  if (op === "score")
    return typeof ip === "string"
      ? { op, ip }
      : { ok: false, error: "invalid-ip", message: "ip must be a string" };
  if (op === "revoke") {
    if (typeof ip !== "string") return { ok: false, error: "invalid-ip", message: "ip must be a string" };
    if (reason !== undefined && typeof reason !== "string")
      return { ok: false, error: "bad-request", message: "reason must be a string" };
    return reason === undefined ? { op, ip } : { op, ip, reason };
  }
  if (op !== "report") return { ok: false, error: "bad-request", message: "unknown op" };
  if (typeof ip !== "string") return { ok: false, error: "invalid-ip", message: "ip must be a string" };
  // Any jail name is fine: the node turns it into a wire label (protocol/jail.ts).
  if (jail !== undefined && typeof jail !== "string") {
    return { ok: false, error: "invalid-jail", message: "jail must be a string" };
  }
  return jail === undefined ? { op, ip } : { op, ip, jail };
}

function parseImport(
  data: Record<string, unknown>,
): ControlRequest | Extract<ControlResponse, { ok: false }> {
  const { trust, relay, reports } = data;
  if (typeof trust !== "number" || !Number.isInteger(trust) || trust < 0 || trust > 100)
    return badRequest("trust must be an integer from 0 to 100");
  if (typeof relay !== "boolean") return badRequest("relay must be true or false");
  if (
    !Array.isArray(reports) ||
    reports.length > IMPORT_BATCH ||
    !reports.every((r) => typeof r === "string")
  )
    return badRequest(`reports must be a list of at most ${IMPORT_BATCH} base64 strings`);
  return { op: "import", trust, relay, reports: reports as string[] };
}

async function removeStaleSocket(file: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch {
    return;
  }
  if (!stat.isSocket())
    throw new Error(`${file} exists and is not a socket (a symlink or a file): remove it first`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(file);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (live) throw new Error(`another f2bp2p node is already listening on ${file}`);
  fs.unlinkSync(file);
}
