import os from "node:os";
import { MAX_NEVER_BAN_ENTRIES } from "../protocol/constants.js";
import { type IpRange, parseIp, parseRange, rangeContains } from "../protocol/ip.js";
import { rangeProblem } from "../protocol/never-ban-list.js";
import { SPECIAL_PURPOSE_BLOCKS } from "./special-purpose.js";

/** What this node asks its friends never to ban because of it, and what did not fit. */
export interface SharedNeverBan {
  /** At most MAX_NEVER_BAN_ENTRIES ranges: the configured ones first, then this host's addresses. */
  readonly ranges: readonly IpRange[];
  /** Addresses left out because the list was full (logged as a warning). */
  readonly left: readonly string[];
}

/**
 * This node's never-ban list (docs/protocol.md section 18): the `share_never_ban` ranges (already
 * validated: none wider than the protocol allows), then, with `shareOwnAddresses`, each address of
 * this host's interfaces that is a host on the Internet (not loopback, private, link-local or any
 * other special-purpose block) and not covered already. `interfaces`: os.networkInterfaces() shape.
 */
export function sharedNeverBan(
  configured: readonly string[],
  shareOwnAddresses: boolean,
  interfaces: ReturnType<typeof os.networkInterfaces> = os.networkInterfaces(),
): SharedNeverBan {
  const candidates: IpRange[] = [];
  for (const text of configured) {
    const parsed = parseRange(text);
    if (parsed.ok && rangeProblem(parsed.range) === undefined) candidates.push(parsed.range);
  }
  if (shareOwnAddresses) {
    for (const addresses of Object.values(interfaces)) {
      for (const a of addresses ?? []) {
        const ip = a.internal ? null : parseIp(a.address);
        if (ip === null || SPECIAL_PURPOSE_BLOCKS.some((b) => rangeContains(b.range, ip))) continue;
        const range = parseRange(ip.text);
        if (range.ok) candidates.push(range.range);
      }
    }
  }
  const ranges: IpRange[] = [];
  const left: string[] = [];
  for (const range of candidates) {
    const host = parseIp(range.text.split("/")[0]!)!;
    const covered = ranges.some(
      (r) => r.family === range.family && r.prefix <= range.prefix && rangeContains(r, host),
    );
    if (covered) continue;
    if (ranges.length < MAX_NEVER_BAN_ENTRIES) ranges.push(range);
    else left.push(range.text);
  }
  return { ranges, left };
}

/** True when two lists hold the same ranges in the same order. */
export function sameRanges(a: readonly IpRange[], b: readonly IpRange[]): boolean {
  return a.length === b.length && a.every((r, i) => r.text === b[i]!.text);
}
