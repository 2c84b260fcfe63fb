import { parseIp } from "../protocol/ip.js";

/**
 * Reading the bans log for `f2bp2p unban-apply`: pure rules. Line formats: node/ban-line.ts and
 * docs/fail2ban.md ("The bans log").
 */

/** One bans log line as unban-apply sees it; anything else (damaged, foreign) is skipped. */
export type BansLogEntry =
  | { readonly kind: "ban"; readonly ip: string }
  | { readonly kind: "unban"; readonly ip: string; readonly reason: string };

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z (BAN|UNBAN) (\S{1,45}) (.{0,200})$/;
const UNBAN_REST = /^reason=([a-z][a-z0-9-]{0,31})$/;

/** Parses one line (without its newline); undefined for anything that is not a BAN or UNBAN line. */
export function parseBansLogLine(line: string): BansLogEntry | undefined {
  const m = LINE.exec(line);
  if (m === null) return undefined;
  const ip = parseIp(m[2]!);
  if (ip === null || ip.text !== m[2]) return undefined;
  if (m[1] === "BAN") return { kind: "ban", ip: ip.text };
  const rest = UNBAN_REST.exec(m[3]!);
  return rest === null ? undefined : { kind: "unban", ip: ip.text, reason: rest[1]! };
}

/** An UNBAN to apply, with where its line starts (`W`: the position to resume at if it fails). */
export interface PendingUnban<W> {
  readonly ip: string;
  readonly reason: string;
  readonly where: W;
}

/**
 * Collects the unbans of a stretch of the bans log, in file order: for each address only its last
 * UNBAN counts, and none when a BAN line of it follows (banned again afterwards: fail2ban's jail
 * reads that line and must keep the ban). Memory: one entry per address.
 */
export class UnbanCollector<W> {
  readonly #pending = new Map<string, PendingUnban<W>>();

  /** Feeds one entry, in file order; `where` says where its line starts. */
  add(entry: BansLogEntry, where: W): void {
    this.#pending.delete(entry.ip);
    if (entry.kind === "unban") this.#pending.set(entry.ip, { ip: entry.ip, reason: entry.reason, where });
  }

  /** The unbans to apply, in the order of their lines. */
  result(): PendingUnban<W>[] {
    return [...this.#pending.values()];
  }
}
