/**
 * The trust rules, as pure functions: no clock, no I/O, no state of their own.
 * docs/trust.md explains them with worked examples; test/trust/rules.test.ts pins them down.
 */

/** Trust a node puts in its own reports. */
export const OWN_TRUST = 100;
export const MAX_SCORE = 100;
/** The `via` of a contribution that is our own report. */
export const VIA_SELF = "self";

/**
 * Trust a report has here when friend F passes it on with trust `claimed`:
 * claimed × trust(F) / 100, rounded down so decay can never round a report up over a threshold.
 */
export function relayedTrust(claimed: number, friendTrust: number): number {
  return Math.floor((claimed * friendTrust) / 100);
}

/** One origin's best contribution to an IP, and the neighbour (friend key, or VIA_SELF) it came through. */
export interface Contribution {
  readonly trust: number;
  readonly via: string;
}

/**
 * Score of an IP: contributions of distinct origins add up, capped at 100. Whatever arrives through one
 * friend counts for at most that friend's trust, so one friend can never push an IP above its own trust
 * however many origins it invents. Our own reports count in full.
 */
export function ipScore(contributions: Iterable<Contribution>, trustOfVia: (via: string) => number): number {
  const byVia = new Map<string, number>();
  for (const c of contributions) byVia.set(c.via, (byVia.get(c.via) ?? 0) + c.trust);
  let score = 0;
  for (const [via, sum] of byVia) score += Math.min(sum, via === VIA_SELF ? OWN_TRUST : trustOfVia(via));
  return Math.min(score, MAX_SCORE);
}

/** One copy of a report as far as improving on it goes: its trust here and its path length. */
export interface CopyMark {
  readonly trust: number;
  readonly hops: number;
  /**
   * The copy's path as it reached us (origin first, the friend it came through last), so a weaker
   * copy with a shorter path can be sent again by catch-up sync; absent in stores written before.
   */
  readonly path?: readonly Buffer[];
}

/**
 * A copy of a report we already hold matters when no held copy is at least as good in both respects:
 * at least as much trust and a path no longer. More trust raises the report's contribution here and
 * travels on, so every node ends with the best-path trust; a shorter path, even with less trust,
 * travels on because it can still go where max_hops stops the longer one. Anything else is dropped.
 */
export function isImprovement(held: readonly CopyMark[], offered: CopyMark): boolean {
  return !held.some((h) => h.trust >= offered.trust && h.hops <= offered.hops);
}

/** The copies still worth comparing against once `offered` is accepted: those it does not dominate. */
export function undominated(held: readonly CopyMark[], offered: CopyMark): CopyMark[] {
  return [...held.filter((h) => h.trust > offered.trust || h.hops < offered.hops), offered];
}

/** A score "first reaches" the threshold when it is at or above it and the IP is not banned yet. */
export function reachesThreshold(score: number, threshold: number, alreadyBanned: boolean): boolean {
  return !alreadyBanned && score >= threshold;
}

export interface ForwardCandidate {
  /** Signing key of the friend, as lower-case hex. */
  readonly key: string;
}

/**
 * Friends a report goes on to: never back to the friend it came from, never to a node already in its
 * path, never once the path (origin included) has reached maxHops, and never with zero trust.
 * `pathKeys` is the path as it reached us (empty for our own report), `from` the sending friend.
 */
export function forwardTargets<F extends ForwardCandidate>(
  friends: readonly F[],
  pathKeys: ReadonlySet<string>,
  pathLength: number,
  trust: number,
  maxHops: number,
  from: string | undefined,
): F[] {
  if (trust <= 0 || pathLength >= maxHops) return [];
  return friends.filter((f) => f.key !== from && !pathKeys.has(f.key));
}
