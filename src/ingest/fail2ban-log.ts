/**
 * Parsing of fail2ban's own log for log-watch ingestion, in every form fail2ban 1.0 produces it.
 *
 * 1. fail2ban's log file (`logtarget = /var/log/fail2ban.log`), format
 *    `%(asctime)s %(name)-24s[%(process)d]: %(levelname)-7s %(message)s`:
 *      2026-11-21 10:00:00,123 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 203.0.113.50
 *    (no time with `logtarget = SYSOUT`, no padding with `padding = false`).
 * 2. `logtarget = SYSLOG`, as a syslog daemon writes it (traditional or RFC 3339 time, host name):
 *      Nov 30 12:00:00 host fail2ban.actions[1234]: NOTICE [sshd] Ban 203.0.113.61
 *      2026-11-30T12:00:00.123456+00:00 host fail2ban.actions[1234]: NOTICE [sshd] Ban 203.0.113.61
 * 3. `logtarget = SYSTEMD-JOURNAL`, as `journalctl` (short, short-iso) or rsyslog's imjournal
 *    print it: fail2ban gives the journal the bare message under the identifier `fail2ban`:
 *      Nov 30 12:00:00 host fail2ban[1234]: [sshd] Ban 203.0.113.62
 * 4. `logtarget = STDOUT`/`STDERR` under systemd, in the journal as the service's output:
 *      Nov 30 12:00:00 host fail2ban-server[1234]: fail2ban.actions [1234]: NOTICE [sshd] Ban 203.0.113.63
 *
 * Only the `Ban` message is a new ban. Everything else is ignored, in particular `Restore Ban`
 * (bans restored from fail2ban's database at restart, already reported when they happened),
 * `Unban`, `Reban`, `Found` (a failure, not a ban) and `already banned`.
 * Pure functions only: no I/O here (see log-follower.ts).
 */
import { parseIp } from "../protocol/ip.js";
import { FAIL2BAN_JAIL_PATTERN, MAX_FAIL2BAN_JAIL_CHARS } from "../protocol/jail.js";

export interface Fail2banBan {
  /** fail2ban's jail name as logged (a report carries the label made from it, protocol/jail.ts). */
  readonly jail: string;
  /** Canonical IP text (protocol/ip.ts). */
  readonly ip: string;
}

/** What one line of a watched file is. */
export type Fail2banLine =
  | { readonly kind: "ban"; readonly ban: Fail2banBan }
  /** A line fail2ban wrote, in a form recognised here, that is not a new ban. */
  | { readonly kind: "fail2ban" }
  /** A `Ban` line whose address or jail name f2bp2p cannot read: said, never dropped silently. */
  | { readonly kind: "unreadable-ban"; readonly reason: string }
  /** Anything else: another program's line in a syslog file, or a form log-watch does not read. */
  | { readonly kind: "other" };

const ASCTIME = String.raw`\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:[.,]\d+)?`;
/** fail2ban's own prefix: logger name (padded or not), pid, level (padded or not). */
const LOGGER = String.raw`(fail2ban\.[a-z.]+) *\[\d+\]: [A-Z]+ +`;
/** A syslog daemon's or journalctl's time and host name. */
const SYSLOG_HEADER =
  String.raw`(?:[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}` +
  String.raw`|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})) \S+ `;

/** Forms 1 and 2 and 4 give the logger in group 1 or 2; form 3 (journal) has none. */
const FAIL2BAN_LINE = new RegExp(
  `^(?:(?:${ASCTIME} )?${LOGGER}|${SYSLOG_HEADER}(?:fail2ban-server\\[\\d+\\]: (?:${ASCTIME} )?)?${LOGGER.replace("(fail2ban", "(?<l2>fail2ban")}|${SYSLOG_HEADER}(?<journal>fail2ban\\[\\d+\\]: ))(?<message>.*)$`,
);

const BAN_MESSAGE = /^\[([^\]\s]+)\] Ban (\S+)$/;

/** Longest line worth looking at: a ban line is far shorter; bounds regex work on garbage. */
export const MAX_FAIL2BAN_LINE_CHARS = 1024;

/** Classifies one line of a watched file (a trailing CR or LF is ignored). Never throws. */
export function classifyFail2banLine(raw: string): Fail2banLine {
  if (raw.length > MAX_FAIL2BAN_LINE_CHARS) return { kind: "other" };
  const line = raw.replace(/\r?\n$/, "").replace(/\r$/, "");
  const m = FAIL2BAN_LINE.exec(line);
  if (!m) return { kind: "other" };
  const logger = m[1] ?? m.groups?.l2;
  const fromActions = logger === "fail2ban.actions" || m.groups?.journal !== undefined;
  const ban = fromActions ? BAN_MESSAGE.exec(m.groups?.message ?? "") : null;
  if (ban === null) return { kind: "fail2ban" };
  const jail = ban[1]!;
  const ip = parseIp(ban[2]!);
  if (ip === null)
    return { kind: "unreadable-ban", reason: `not an IPv4 or IPv6 address: ${JSON.stringify(ban[2])}` };
  if (!FAIL2BAN_JAIL_PATTERN.test(jail)) {
    return { kind: "unreadable-ban", reason: `jail name over ${MAX_FAIL2BAN_JAIL_CHARS} characters` };
  }
  return { kind: "ban", ban: { jail, ip: ip.text } };
}

/** The new ban in one line of fail2ban's log, or null for every other line. */
export function parseFail2banBan(line: string): Fail2banBan | null {
  const classified = classifyFail2banLine(line);
  return classified.kind === "ban" ? classified.ban : null;
}

/** True when bans of `jail` should be reported: never the f2bp2p jail itself, else per the list. */
export function isReportedJail(jail: string, jails: readonly string[], ownJail: string): boolean {
  if (jail === ownJail) return false;
  return jails.length === 0 || jails.includes(jail);
}
