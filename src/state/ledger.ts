import type { SignedReport } from "../protocol/report.js";
import {
  type Contribution,
  type CopyMark,
  ipScore,
  isImprovement,
  reachesThreshold,
  undominated,
  VIA_SELF,
} from "../trust/rules.js";

/** What we know of one report (by message id): its best trust here and the path that gave it. */
export interface KnownReport {
  readonly signed: SignedReport;
  trust: number;
  /** Path as it reached us on the best copy (origin first, sending friend last); empty for our own. */
  path: readonly Buffer[];
  via: string;
  readonly expiresAt: number;
  /** When this node last accepted a copy of it (its clock): what a resend after a reconnect looks at. */
  acceptedAt: number;
  /** The neighbour whose copy was first accepted: the report counts against its quota until it expires. */
  readonly broughtBy: string;
  /** Other copies with less trust but a shorter path than the best; absent in the common case. */
  shorter?: CopyMark[];
}

interface OriginContribution extends Contribution {
  trust: number;
  via: string;
  hops: number;
  expiresAt: number;
}

interface IpRecord {
  readonly contributions: Map<string, OriginContribution>;
  banned: boolean;
}

/** An arrival the ledger accepts: a report, where it came through and the trust it carries here. */
export interface Arrival {
  readonly signed: SignedReport;
  /** Local time of arrival; the journal does not keep it, replay uses the replay time. */
  readonly at?: number;
  readonly trust: number;
  readonly via: string;
  readonly path: readonly Buffer[];
}

export type Outcome =
  | { readonly kind: "no-gain"; readonly known: KnownReport }
  | { readonly kind: "over-quota" }
  | {
      readonly kind: "accepted";
      readonly known: KnownReport;
      /** The copy just accepted, which travels on: the best one, or a weaker one with a shorter path. */
      readonly copy: Arrival;
      /** False for the first copy of a report, true for a later copy that improved on those held. */
      readonly improved: boolean;
      readonly score: number;
      /** True exactly once per IP lifetime: when its score first reaches the threshold. */
      readonly banNow: boolean;
    };

export interface LedgerOptions {
  readonly lifetimeMs: number;
  readonly threshold: number;
  readonly trustOfVia: (via: string) => number;
  /** Most live reports one friend may bring in (our own are not limited). */
  readonly maxReportsPerFriend: number;
}

/**
 * Everything a node remembers about reports and IPs, in memory. Pure bookkeeping: the caller passes
 * the time and does all I/O. Entries live for the report lifetime after the report's own time, which is
 * also how long the protocol accepts a report, so the seen-set never forgets a report it could still get.
 */
export class Ledger {
  readonly #reports = new Map<string, KnownReport>();
  readonly #ips = new Map<string, IpRecord>();
  readonly #broughtCount = new Map<string, number>();
  readonly #options: LedgerOptions;

  constructor(options: LedgerOptions) {
    this.#options = options;
  }

  get reportCount(): number {
    return this.#reports.size;
  }

  get ipCount(): number {
    return this.#ips.size;
  }

  known(id: Buffer): KnownReport | undefined {
    return this.#reports.get(id.toString("hex"));
  }

  /** Records an arrival; accepts it only when it is new or improves on every copy we hold. */
  apply(arrival: Arrival): Outcome {
    const idHex = arrival.signed.id.toString("hex");
    const previous = this.#reports.get(idHex);
    if (previous !== undefined) return this.#another(previous, arrival);
    if (this.#overQuota(arrival.via)) return { kind: "over-quota" };
    const expiresAt = arrival.signed.report.time + this.#options.lifetimeMs;
    const known: KnownReport = {
      signed: arrival.signed,
      trust: arrival.trust,
      path: arrival.path,
      via: arrival.via,
      expiresAt,
      acceptedAt: arrival.at ?? arrival.signed.report.time,
      broughtBy: arrival.via,
    };
    this.#broughtCount.set(arrival.via, (this.#broughtCount.get(arrival.via) ?? 0) + 1);
    this.#reports.set(idHex, known);
    return this.#count(known, arrival, false);
  }

  /** A further copy of a report we hold: kept if it improves on all held copies (rules.isImprovement). */
  #another(known: KnownReport, arrival: Arrival): Outcome {
    const best: CopyMark = { trust: known.trust, hops: known.path.length };
    const held = known.shorter ? [best, ...known.shorter] : [best];
    const offered: CopyMark = { trust: arrival.trust, hops: arrival.path.length };
    if (!isImprovement(held, offered)) return { kind: "no-gain", known };
    known.acceptedAt = arrival.at ?? arrival.signed.report.time;
    const kept = undominated(held, offered);
    if (offered.trust > known.trust) {
      known.trust = arrival.trust;
      known.path = arrival.path;
      known.via = arrival.via;
    }
    const others = kept.filter((c) => c.trust < known.trust);
    if (others.length > 0) known.shorter = others;
    else delete known.shorter;
    return this.#count(known, arrival, true);
  }

  /** Brings the IP's score up to date with the report's best copy; says whether it is banned now. */
  #count(known: KnownReport, copy: Arrival, improved: boolean): Outcome {
    const { ip, origin } = known.signed.report;
    let record = this.#ips.get(ip);
    if (record === undefined) {
      record = { contributions: new Map(), banned: false };
      this.#ips.set(ip, record);
    }
    this.#contribute(record, origin.toString("hex"), known);
    const score = this.#scoreOf(record);
    const banNow = reachesThreshold(score, this.#options.threshold, record.banned);
    if (banNow) record.banned = true;
    return { kind: "accepted", known, copy, improved, score, banNow };
  }

  /** Every report still held, as the arrival that gave it its current trust: what the journal keeps. */
  *live(): Generator<Arrival> {
    for (const known of this.#reports.values()) {
      yield { signed: known.signed, trust: known.trust, via: known.via, path: known.path };
    }
  }

  /** Reports accepted at or after `since` (local clock), for resending to a friend that reconnected. */
  *acceptedSince(since: number): Generator<KnownReport> {
    for (const known of this.#reports.values()) if (known.acceptedAt >= since) yield known;
  }

  /** Current score of an IP (0 when unknown). */
  score(ip: string): number {
    const record = this.#ips.get(ip);
    return record === undefined ? 0 : this.#scoreOf(record);
  }

  isBanned(ip: string): boolean {
    return this.#ips.get(ip)?.banned ?? false;
  }

  /** Forgets reports and contributions whose lifetime is over; an IP with none left may be banned again. */
  expire(now: number): void {
    const sweep = this.expireInSteps(now);
    while (!sweep.next().done);
  }

  /**
   * The same sweep in steps of about `step` entries, so a node holding a million reports can run it
   * between messages instead of stopping for a quarter of a second. Maps tolerate deletion while
   * they are iterated; what arrives during the sweep is newer than `now` and is left alone.
   */
  *expireInSteps(now: number, step = 10_000): Generator<void, void, void> {
    let done = 0;
    for (const [id, known] of this.#reports) {
      if (++done % step === 0) yield;
      if (known.expiresAt > now) continue;
      this.#reports.delete(id);
      const left = (this.#broughtCount.get(known.broughtBy) ?? 1) - 1;
      if (left > 0) this.#broughtCount.set(known.broughtBy, left);
      else this.#broughtCount.delete(known.broughtBy);
    }
    for (const [ip, record] of this.#ips) {
      if (++done % step === 0) yield;
      for (const [origin, c] of record.contributions) {
        if (c.expiresAt <= now) record.contributions.delete(origin);
      }
      if (record.contributions.size === 0) this.#ips.delete(ip);
    }
  }

  /** Each origin's contribution to an IP (origin as hex key), strongest first. */
  contributions(ip: string): { origin: string; trust: number; via: string; hops: number }[] {
    const record = this.#ips.get(ip);
    if (record === undefined) return [];
    return [...record.contributions]
      .map(([origin, c]) => ({ origin, trust: c.trust, via: c.via, hops: c.hops }))
      .sort((a, b) => b.trust - a.trust);
  }

  /** Live reports each neighbour brought in, for status. */
  broughtBy(via: string): number {
    return this.#broughtCount.get(via) ?? 0;
  }

  #overQuota(via: string): boolean {
    return via !== VIA_SELF && (this.#broughtCount.get(via) ?? 0) >= this.#options.maxReportsPerFriend;
  }

  #scoreOf(record: IpRecord): number {
    return ipScore(record.contributions.values(), this.#options.trustOfVia);
  }

  /**
   * One origin counts once per IP: with the highest trust any of its reports of the IP reached,
   * for as long as its newest report of the IP lives.
   */
  #contribute(record: IpRecord, originHex: string, known: KnownReport): void {
    const current = record.contributions.get(originHex);
    if (current === undefined) {
      record.contributions.set(originHex, {
        trust: known.trust,
        via: known.via,
        hops: known.path.length,
        expiresAt: known.expiresAt,
      });
      return;
    }
    if (known.trust > current.trust) {
      current.trust = known.trust;
      current.via = known.via;
      current.hops = known.path.length;
    }
    current.expiresAt = Math.max(current.expiresAt, known.expiresAt);
  }
}
