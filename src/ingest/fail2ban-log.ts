/**
 * Parsing of fail2ban's own log (/var/log/fail2ban.log) for log-watch ingestion.
 *
 * fail2ban 1.0.2 writes one line per new ban, with its default log format
 * `%(asctime)s %(name)-24s[%(process)d]: %(levelname)-7s %(message)s`:
 *
 *   2026-11-21 10:00:00,123 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 203.0.113.50
 *
 * Only that `Ban` line is a new ban. Everything else is ignored, in particular
 * `Restore Ban` (bans restored from fail2ban's database at restart, already reported when
 * they happened), `Unban`, `Reban`, `Found` (a failure, not a ban) and `already banned`.
 * Pure functions only: no I/O here (see log-follower.ts).
 */
import { JAIL_NAME_PATTERN } from "../protocol/constants.js";
import { parseIp } from "../protocol/ip.js";

export interface Fail2banBan {
  readonly jail: string;
  /** Canonical IP text (IPv4 dotted quad, RFC 5952 IPv6; IPv4-mapped IPv6 folded to IPv4). */
  readonly ip: string;
}

/**
 * Optional `asctime` (absent when fail2ban logs to syslog/stdout without time), the logger name
 * `fail2ban.actions` padded to 24 columns (no padding with `padding = false`), `[pid]:`, a level
 * (NOTICE since 0.10, WARNING in 0.9), then exactly `[jail] Ban ADDRESS` and the end of the line.
 */
const BAN_LINE =
  /^(?:\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:[.,]\d+)? )?fail2ban\.actions *\[\d+\]: [A-Z]+ +\[([^\]\s]+)\] Ban (\S+)$/;

/** Longest line worth looking at: a ban line is far shorter; bounds regex work on garbage. */
const MAX_LINE_CHARS = 512;

/**
 * Recognises a new ban in one line of fail2ban's log. Returns null for every other line.
 * The address is validated and normalised with node's parser (never a hand-written IP regex);
 * jail names must be what f2bp2p can carry (1–32 of [A-Za-z0-9._-]).
 */
export function parseFail2banBan(line: string): Fail2banBan | null {
  if (line.length > MAX_LINE_CHARS) return null;
  const m = BAN_LINE.exec(line.replace(/\r?\n$/, "").replace(/\r$/, ""));
  if (!m) return null;
  const jail = m[1]!;
  if (!JAIL_NAME_PATTERN.test(jail)) return null;
  const ip = parseIp(m[2]!);
  if (ip === null) return null;
  return { jail, ip: ip.text };
}

/** True when bans of `jail` should be reported: never the f2bp2p jail itself, else per the list. */
export function isReportedJail(jail: string, jails: readonly string[], ownJail: string): boolean {
  if (jail === ownJail) return false;
  return jails.length === 0 || jails.includes(jail);
}
