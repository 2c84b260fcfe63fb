import { NODE_DEFAULTS } from "../config/defaults.js";
import { ENVELOPE_HEADER_BYTES, KEY_BYTES } from "../protocol/constants.js";

/**
 * Per-friend rate limit on reports received, checked before any signature is verified, so a friend
 * flooding valid messages costs the node a few byte reads per message beyond its share instead of
 * two Ed25519 verifications per report (docs/security.md). Time is passed in (ms); no timers.
 */

/** Sustained reports per second a friend may send; docs/configuration.md `friend_reports_per_second`. */
export const DEFAULT_FRIEND_REPORTS_PER_SECOND: number = NODE_DEFAULTS.friend_reports_per_second;
/** Reports a friend may send at once after a quiet period (a resend after reconnecting, a catch-up). */
export const DEFAULT_FRIEND_BURST: number = NODE_DEFAULTS.friend_burst;

export interface RateLimitConfig {
  /** Tokens (reports) added per second, > 0. */
  readonly reportsPerSecond: number;
  /** Most tokens held, >= 1: the largest burst. */
  readonly burst: number;
}

/** A token bucket: starts full, refills continuously at `reportsPerSecond` up to `burst`. */
export class TokenBucket {
  readonly #config: RateLimitConfig;
  #tokens: number;
  #at: number;

  constructor(config: RateLimitConfig, now: number) {
    this.#config = config;
    this.#tokens = config.burst;
    this.#at = now;
  }

  /** Tokens available at `now` (ms); a clock that steps back refills nothing. */
  available(now: number): number {
    if (now > this.#at) {
      this.#tokens = Math.min(
        this.#config.burst,
        this.#tokens + ((now - this.#at) * this.#config.reportsPerSecond) / 1000,
      );
      this.#at = now;
    }
    return this.#tokens;
  }

  /** Takes `cost` tokens; the balance may go below zero (a message is never split), which delays the next. */
  take(cost: number, now: number): void {
    this.available(now);
    this.#tokens -= cost;
  }
}

/** What a message claims before anything in it is verified: its sender's key and its report count. */
export interface Claim {
  /** The envelope's `from` key as lower-case hex, or undefined when the frame is too short to say. */
  readonly sender: string | undefined;
  /** Reports the envelope says it carries (at least 1). */
  readonly cost: number;
}

/** Reads the envelope header (docs/protocol.md section 6) without trusting it: count at byte 2, from at 4. */
export function claimOf(frames: readonly Buffer[]): Claim {
  const envelope = frames[0];
  if (envelope === undefined || envelope.length < ENVELOPE_HEADER_BYTES)
    return { sender: undefined, cost: 1 };
  return { sender: envelope.toString("hex", 4, 4 + KEY_BYTES), cost: Math.max(1, envelope[2]!) };
}

/**
 * One token bucket per friend, keyed by signing key (hex). `admits` looks before verification;
 * `charge` takes the tokens only once the envelope's signature proved the sender, so a friend that
 * puts another friend's key in `from` cannot spend that friend's share (it costs one failed
 * verification per message instead). Buckets exist only for friends: memory is bounded by friends.d.
 */
export class FriendRateLimit {
  readonly #buckets = new Map<string, TokenBucket>();

  readonly #config: RateLimitConfig;

  constructor(config: RateLimitConfig, friendKeys: readonly string[], now: number) {
    this.#config = config;
    this.setFriends(friendKeys, now);
  }

  /**
   * The friends after a reload (signing keys, hex): a friend that stays keeps its bucket (a reload
   * does not refill it), a new one starts full, a dropped one is forgotten.
   */
  setFriends(friendKeys: readonly string[], now: number): void {
    const keep = new Set(friendKeys);
    for (const key of this.#buckets.keys()) if (!keep.has(key)) this.#buckets.delete(key);
    for (const key of keep)
      if (!this.#buckets.has(key)) this.#buckets.set(key, new TokenBucket(this.#config, now));
  }

  /** False when the claimed sender is a friend whose bucket is empty: drop the message unverified. */
  admits(claim: Claim, now: number): boolean {
    const bucket = claim.sender === undefined ? undefined : this.#buckets.get(claim.sender);
    return bucket === undefined || bucket.available(now) > 0;
  }

  /** Charges a verified sender for the reports of its message. */
  charge(sender: string, cost: number, now: number): void {
    this.#buckets.get(sender)?.take(cost, now);
  }
}
