import dns from "node:dns/promises";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { unmapIPv4 as normalise, type ZapPolicy, type ZapRefusal } from "../transport/zap.js";
import type { Logger } from "../util/logger.js";
import { ClosedConnections, readProcNetTcp, type TcpEntry } from "./closed-connections.js";

/** Addresses remembered as admitted by ZAP, and as refused by ZAP but not yet seen closed. */
const MAX_REMEMBERED = 10_000;
/** The second look at the kernel's table after a connection ended. */
const LATE_SCAN_MS = 250;

/**
 * The authentication-failure log: one line per refused connection attempt whose peer address is
 * known, for fail2ban's `f2bp2p-auth` jail (fail2ban/filter.d/f2bp2p-auth.conf). Every attempt is its
 * own line, with no rate limit, so `maxretry` counts attempts. Friends' addresses are never counted:
 * a friend whose key changed is a configuration problem, logged as such on a line the filter skips.
 */

/** Why an attempt was refused. */
export type AuthFailureReason =
  /** A CURVE client whose long-term key is not in friends.d (refused by ZAP). */
  | "unknown-key"
  /** A ZAP request for a mechanism other than CURVE, or with malformed credentials. */
  | "bad-mechanism"
  /**
   * A connection the node closed before its handshake completed, without a ZAP request: a NULL or
   * PLAIN client, garbage, or silence until the handshake interval ran out (closed-connections.ts).
   */
  | "handshake-failed";

export interface AuthFailure {
  readonly at: Date;
  /** The peer's IP address as libzmq's ZAP request gives it (no port). */
  readonly address: string;
  readonly reason: AuthFailureReason;
  /** The client's CURVE public key in Z85, when it offered one. */
  readonly key?: string;
}

/** `2026-11-30T14:30:41.123Z AUTH-FAIL 203.0.113.5 reason=unknown-key key=Z85`: the filter's line. */
export function formatAuthFailure(f: AuthFailure): string {
  return `${f.at.toISOString()} AUTH-FAIL ${f.address} reason=${f.reason}${f.key === undefined ? "" : ` key=${f.key}`}\n`;
}

/** The same attempt from a friend's address: never matched by the filter (it does not start with AUTH-FAIL). */
export function formatFriendAuthFailure(f: AuthFailure, friend: string): string {
  return `${f.at.toISOString()} FRIEND-ADDRESS ${f.address} friend=${friend} reason=${f.reason}${f.key === undefined ? "" : ` key=${f.key}`} (not counted: is its key in friends.d current?)\n`;
}

/** Mode of the log file and of the folder the node creates for it; explicit, never from the umask. */
export const AUTH_LOG_MODE = 0o640;
export const LOG_FOLDER_MODE = 0o750;

/**
 * Appends whole lines with one write each, so fail2ban never reads half a line. The file is opened
 * with O_NOFOLLOW: a symlink planted in its place is refused, never followed. reopen() follows
 * logrotate (SIGHUP). A write error is reported once per outage in the operational log and never
 * stops the node.
 */
export class AuthLog {
  readonly #file: string;
  readonly #log: Logger;
  /** Friends' addresses (from their endpoints, names resolved at start) to the friend's name. */
  readonly #friends = new Map<string, string>();
  /** Addresses a friend's key came from (a friend behind NAT): their closed connections are not attempts. */
  readonly #admitted = new Set<string>();
  /** Refusals by ZAP already written, by address, whose connection has not been seen closed yet. */
  readonly #refusedOpen = new Map<string, number>();
  #closed: ClosedConnections | undefined;
  #scanning = false;
  #rescan = false;
  #lateScan: NodeJS.Timeout | undefined;
  readonly #readTable: () => TcpEntry[];
  readonly #now: () => number;
  #fd: number | undefined;
  #failing = false;
  lines = 0;

  constructor(file: string, log: Logger, now: () => number, readTable: () => TcpEntry[] = readProcNetTcp) {
    this.#file = file;
    this.#log = log;
    this.#now = now;
    this.#readTable = readTable;
  }

  /**
   * The listener's ZAP policy: `admit` decides, this log records every refusal and remembers the
   * addresses friends' keys come from.
   */
  policy(admit: (curveKey: string) => string | undefined): ZapPolicy {
    return {
      admit: (key, address) => {
        const name = admit(key);
        if (name !== undefined && address !== undefined) remember(this.#admitted, normalise(address));
        return name;
      },
      denied: (refusal: ZapRefusal) => {
        const address = normalise(refusal.address);
        this.#refusedOpen.set(address, (this.#refusedOpen.get(address) ?? 0) + 1);
        trim(this.#refusedOpen);
        this.refused({ at: new Date(this.#now()), ...refusal });
      },
    };
  }

  /** From now on, connections to `port` that the node closes before a handshake are attempts too. */
  watchClosed(port: number): void {
    this.#closed = new ClosedConnections(port);
    this.#closed.newlyClosed(this.#readTable()); // what was closed before this run is not ours
  }

  /**
   * The listener closed or failed a connection: look for it in the kernel's table, once per turn of
   * the event loop however many events came.
   */
  connectionClosed(): void {
    if (this.#closed === undefined) return;
    // libzmq reports the close before (or while) it closes the descriptor: look again a little later.
    this.#lateScan ??= setTimeout(() => {
      this.#lateScan = undefined;
      this.#scan();
    }, LATE_SCAN_MS).unref();
    if (this.#scanning) {
      this.#rescan = true;
      return;
    }
    this.#scanning = true;
    setImmediate(() => {
      this.#scan();
      this.#scanning = false;
      if (this.#rescan) {
        this.#rescan = false;
        this.connectionClosed();
      }
    });
  }

  #scan(): void {
    if (this.#closed === undefined) return;
    for (const address of this.#closed.newlyClosed(this.#readTable())) {
      if (this.#admitted.has(address) || this.#friends.has(address)) continue;
      const refused = this.#refusedOpen.get(address) ?? 0;
      if (refused > 0) {
        // Already written when ZAP refused it.
        if (refused === 1) this.#refusedOpen.delete(address);
        else this.#refusedOpen.set(address, refused - 1);
        continue;
      }
      this.refused({ at: new Date(this.#now()), address, reason: "handshake-failed" });
    }
  }

  get file(): string {
    return this.#file;
  }

  /** Opens the file and resolves each friend's endpoint host to the addresses that are never counted. */
  async start(friends: readonly { name: string; host: string }[]): Promise<void> {
    this.#open();
    await this.setFriends(friends);
  }

  /** The friends' addresses (endpoint hosts, names resolved now); again on reload (friends.d re-read). */
  async setFriends(friends: readonly { name: string; host: string }[]): Promise<void> {
    const addresses = new Map<string, string>();
    for (const { name, host } of friends) {
      if (net.isIP(host) !== 0) {
        addresses.set(normalise(host), name);
        continue;
      }
      try {
        for (const { address } of await dns.lookup(host, { all: true }))
          addresses.set(normalise(address), name);
      } catch {
        this.#log.warn("cannot resolve friend's host; its address may be counted as an attacker", { host });
      }
    }
    this.#friends.clear();
    for (const [address, name] of addresses) this.#friends.set(address, name);
  }

  /** Writes one refused attempt: an AUTH-FAIL line, or a FRIEND-ADDRESS line for a friend's address. */
  refused(attempt: AuthFailure): void {
    const failure = { ...attempt, address: normalise(attempt.address) };
    const friend = this.#friends.get(failure.address);
    if (friend !== undefined) {
      this.#log.warn("friend's address refused: its key is not the one in friends.d", {
        friend,
        address: failure.address,
        reason: failure.reason,
      });
    }
    this.#append(
      friend === undefined ? formatAuthFailure(failure) : formatFriendAuthFailure(failure, friend),
    );
  }

  /** Closes and opens the file again at its path (logrotate moved it); the watch goes on. */
  reopen(): void {
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = undefined;
    this.#open();
  }

  close(): void {
    this.#closed = undefined;
    clearTimeout(this.#lateScan);
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = undefined;
  }

  #open(): void {
    try {
      this.#fd = openAppendNoFollow(this.#file, AUTH_LOG_MODE, LOG_FOLDER_MODE);
      this.#failing = false;
    } catch (err: unknown) {
      this.#fd = undefined;
      this.#reportFailure("cannot open the authentication-failure log", err);
    }
  }

  #append(line: string): void {
    if (this.#fd === undefined) this.#open();
    if (this.#fd === undefined) return;
    try {
      fs.writeSync(this.#fd, line);
      this.lines++;
      this.#failing = false;
    } catch (err: unknown) {
      this.#reportFailure("cannot write the authentication-failure log", err);
    }
  }

  #reportFailure(what: string, err: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#log.error(what, { file: this.#file, error: err instanceof Error ? err.message : String(err) });
  }
}

function remember(set: Set<string>, value: string): void {
  set.delete(value);
  set.add(value);
  if (set.size > MAX_REMEMBERED) set.delete(set.values().next().value as string);
}

function trim(map: Map<string, number>): void {
  if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value as string);
}

/**
 * Opens `file` for appending without following a symlink (O_NOFOLLOW), creating it with `mode` and
 * its missing folders with `folderMode`, both set explicitly so the umask cannot widen them. A file
 * that already exists keeps its mode (the admin may have chosen another). Throws the fs error.
 */
export function openAppendNoFollow(file: string, mode: number, folderMode: number): number {
  const folder = path.dirname(file);
  if (!fs.existsSync(folder)) {
    fs.mkdirSync(folder, { recursive: true, mode: folderMode });
    fs.chmodSync(folder, folderMode);
  }
  const { O_APPEND, O_CREAT, O_WRONLY, O_NOFOLLOW } = fs.constants;
  const existed = fs.existsSync(file);
  const fd = fs.openSync(file, O_APPEND | O_CREAT | O_WRONLY | O_NOFOLLOW, mode);
  if (!existed) fs.fchmodSync(fd, mode);
  return fd;
}
