import type { IpRange, ParsedIp } from "../protocol/ip.js";
import { rangeContains } from "../protocol/ip.js";
import type { NeverBanList } from "../protocol/never-ban-list.js";
import type { StoredContribution } from "../state/store.js";

/** A friend's list in force here, and how far this node lets it reach (friend file key). */
export interface HeldNeverBanList {
  /** The friend's signing key, hex: the `via` and `origin` its reports carry here. */
  readonly friend: string;
  readonly time: number;
  readonly expiresAt: number;
  readonly ranges: readonly IpRange[];
}

/** A list that covers an address: whose it is and whether it shields it from every report. */
export interface Shield {
  readonly friend: string;
  /** Friend file `never_ban_applies_to_all: true`: no report bans the address here. */
  readonly all: boolean;
}

/**
 * The never-ban lists friends sent this node (docs/protocol.md section 18), one per friend, and the
 * rule of what they hold back: friend F's list stops F's own reports and reports that reached this
 * node through F from banning an address it covers; with `never_ban_applies_to_all` set in F's
 * friend file, every report. Pure: the node keeps them durable and passes the time.
 */
export class FriendNeverBanLists {
  readonly #byFriend = new Map<string, HeldNeverBanList>();

  /** Replaces the friend's list (callers check that it is newer: `superseded` otherwise). */
  set(friend: string, list: NeverBanList): void {
    this.#byFriend.set(friend, { friend, time: list.time, expiresAt: list.expiresAt, ranges: list.ranges });
  }

  get(friend: string): HeldNeverBanList | undefined {
    return this.#byFriend.get(friend);
  }

  delete(friend: string): void {
    this.#byFriend.delete(friend);
  }

  /** Every list held, expired ones too (status shows them until they are dropped). */
  all(): HeldNeverBanList[] {
    return [...this.#byFriend.values()];
  }

  /** The earliest expiry of a list in force after `now` (ms), or undefined. */
  nextExpiry(now: number): number | undefined {
    let next: number | undefined;
    for (const l of this.#byFriend.values())
      if (l.expiresAt > now && (next === undefined || l.expiresAt < next)) next = l.expiresAt;
    return next;
  }

  /**
   * The lists in force at `now` that cover `ip`, among friends still configured (`appliesToAll`
   * returns undefined for a friend that is not).
   */
  shields(ip: ParsedIp, now: number, appliesToAll: (friend: string) => boolean | undefined): Shield[] {
    const found: Shield[] = [];
    for (const list of this.#byFriend.values()) {
      if (list.expiresAt <= now) continue;
      const all = appliesToAll(list.friend);
      if (all === undefined) continue;
      if (list.ranges.some((r) => rangeContains(r, ip))) found.push({ friend: list.friend, all });
    }
    return found;
  }
}

/** True when one of `shields` holds back this contribution: it is the friend's own or came through it. */
export function isShielded(c: StoredContribution, shields: readonly Shield[]): boolean {
  return shields.some((s) => s.all || c.origin === s.friend || c.via === s.friend);
}
