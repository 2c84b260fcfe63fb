import { parseIp } from "../protocol/ip.js";

/**
 * One line of the bans log, the only thing fail2ban reads from f2bp2p.
 * Format (docs/fail2ban.md): `2026-11-21T10:00:00.123Z BAN 203.0.113.7 score=80 origin=3fa2c1d09b7e hops=2`
 * The timestamp is UTC with an explicit `Z` so fail2ban never guesses the zone.
 */
export interface BanLine {
  readonly at: Date;
  readonly ip: string;
  readonly score: number;
  /** Short id of the origin node whose report completed the score. */
  readonly origin: string;
  /** Path length of that report when it reached us: 0 for our own report, 1 for a direct friend. */
  readonly hops: number;
}

/**
 * The line for one ban. An address is written in canonical text (protocol/ip.ts), the form the
 * shipped filter reads, whatever form it arrives in (a journal written before the canonical form
 * changed may hold `::1.2.3.4`). Text that is no address is written as it is: the filter refuses
 * such a line, so a bug upstream never becomes a wrong ban.
 */
export function formatBanLine(line: BanLine): string {
  const ip = parseIp(line.ip)?.text ?? line.ip;
  return `${line.at.toISOString()} BAN ${ip} score=${line.score} origin=${line.origin} hops=${line.hops}\n`;
}

/**
 * Why a ban is lifted, written as `reason=` on the UNBAN line: a short token (`[a-z][a-z0-9-]{0,31}`),
 * e.g. `ignore-list` (the address was added to `ignore`) or `revoked` (its report was revoked).
 */
export type LiftReason = string;

/** The token rule for a LiftReason: what the UNBAN line may carry. */
export const LIFT_REASON = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * The line that lifts a ban: `2026-11-21T10:05:00.000Z UNBAN 203.0.113.7 reason=ignore-list`.
 * The shipped filter (fail2ban/filter.d/f2bp2p.conf) never matches it; `f2bp2p unban-apply`, run as
 * root, reads it and has fail2ban's f2bp2p jail unban the address (docs/fail2ban.md).
 */
export function formatUnbanLine(line: {
  readonly at: Date;
  readonly ip: string;
  readonly reason: LiftReason;
}): string {
  const ip = parseIp(line.ip)?.text ?? line.ip;
  return `${line.at.toISOString()} UNBAN ${ip} reason=${line.reason}\n`;
}
