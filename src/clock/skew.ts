/**
 * Reports refused for time say so: a friend whose clock is ahead has every report refused as
 * `from-future` by every friend, and a node whose own clock is behind refuses everything its friends
 * send; neither shows anywhere unless someone counts it. This module counts those refusals per
 * friend with the measured offset, logs them at info level (rate-limited per friend) and gives
 * `f2bp2p status` its `clock` section. Pure bookkeeping: the clock and the logger come from outside.
 */
import { shortId } from "../keys/identity.js";
import { MAX_CLOCK_SKEW_MS } from "../protocol/constants.js";
import { decodeRecord } from "../protocol/revocation.js";
import type { Logger } from "../util/logger.js";
import { OncePer } from "../util/once-per.js";
import type { OwnClock } from "./own-clock.js";

/** At most one info line per friend and reason in this time. */
export const SKEW_LOG_INTERVAL_MS = 10 * 60 * 1000;

export type TimeRefusal = "from-future" | "expired";

/** What `status` shows for one friend whose reports were refused for time. */
export interface FriendSkew {
  readonly refused: Partial<Record<TimeRefusal, number>>;
  /**
   * Report time minus this node's time when the last one was refused, in ms: positive when the
   * report claims a time ahead of our clock (their clock ahead, or ours behind).
   */
  readonly lastOffsetMs: number;
  readonly lastCode: TimeRefusal;
  /** This node's time of that refusal, ms since the epoch. */
  readonly lastAt: number;
  /** Short id of that report's origin: the friend itself, or a node further away whose clock is off. */
  readonly lastOrigin: string;
}

export interface ClockStatus {
  readonly own: OwnClock;
  readonly friends: Readonly<Record<string, FriendSkew>>;
}

export class ClockSkew {
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #lifetimeMs: number;
  readonly #onceEvery = new OncePer(SKEW_LOG_INTERVAL_MS);
  readonly #friends = new Map<string, FriendSkew>();
  #own: OwnClock = { state: "unknown" };

  constructor(options: { now: () => number; log: Logger; lifetimeMs: number }) {
    this.#now = options.now;
    this.#log = options.log;
    this.#lifetimeMs = options.lifetimeMs;
  }

  /**
   * One report from `friend` was refused as `code`. `reportBytes` are the report as received (its
   * signature may not have been checked yet: the offset is shown, never acted on). `pathLength` 1
   * means the friend is the origin; an expired report that travelled further may just be old.
   */
  refused(friend: string, code: TimeRefusal, reportBytes: Buffer, pathLength: number): void {
    const decoded = decodeRecord(reportBytes);
    if (!decoded.ok) return;
    if (code === "expired" && pathLength !== 1) return;
    const now = this.#now();
    const offsetMs = decoded.value.time - now;
    const before = this.#friends.get(friend);
    const refused = { ...before?.refused, [code]: (before?.refused[code] ?? 0) + 1 };
    const origin = shortId(decoded.value.origin);
    this.#friends.set(friend, {
      refused,
      lastOffsetMs: offsetMs,
      lastCode: code,
      lastAt: now,
      lastOrigin: origin,
    });
    if (!this.#onceEvery.allow(`${friend}/${code}`, now)) return;
    const ahead = code === "from-future";
    this.#log.info(
      ahead
        ? "reports refused: their time is ahead of this node's clock (the origin's clock is fast, or ours is slow)"
        : "reports refused: their time is older than the report lifetime (the origin's clock is slow, or ours is fast)",
      {
        friend,
        origin,
        hops: pathLength,
        code,
        offset: formatOffset(offsetMs),
        allowed: ahead ? formatOffset(MAX_CLOCK_SKEW_MS) : `-${formatOffset(this.#lifetimeMs)}`,
        refused: refused[code],
      },
    );
  }

  /** Sets what is known of this host's own clock (own-clock.ts), warning when it is not synchronised. */
  setOwn(own: OwnClock): void {
    this.#own = own;
    if (own.state === "not-synchronised") {
      this.#log.warn("this host's clock is not synchronised (NTP): friends may refuse its reports for time", {
        source: own.source,
      });
    }
  }

  status(): ClockStatus {
    return { own: this.#own, friends: Object.fromEntries(this.#friends) };
  }
}

/** `+10m 0s`, `-1h 2m 3s`, `+450ms`: a signed offset for logs. */
export function formatOffset(ms: number): string {
  const sign = ms < 0 ? "-" : "+";
  let rest = Math.abs(Math.round(ms));
  if (rest < 1000) return `${sign}${rest}ms`;
  rest = Math.round(rest / 1000);
  const parts: string[] = [];
  for (const [size, unit] of [
    [86400, "d"],
    [3600, "h"],
    [60, "m"],
  ] as const) {
    if (rest >= size || parts.length > 0) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  parts.push(`${rest}s`);
  return `${sign}${parts.join(" ")}`;
}
