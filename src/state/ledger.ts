import type { OriginReport, SignedReport } from "../protocol/report.js";
import {
  type CopyMark,
  ipScore,
  isImprovement,
  reachesThreshold,
  undominated,
  VIA_SELF,
} from "../trust/rules.js";
import { FriendQuota } from "./friend-quota.js";
import { bytesMatchId } from "./sqlite-store.js";
import type {
  BanRecord,
  ExpiredBatch,
  StateStore,
  StoredContribution,
  StoredReport,
  StoredRevocation,
} from "./store.js";

/** An arrival the ledger accepts: a report, where it came through and the trust it carries here. */
export interface Arrival {
  readonly signed: SignedReport;
  /** Local time of arrival (ms). */
  readonly at: number;
  readonly trust: number;
  readonly via: string;
  readonly path: readonly Buffer[];
}

export type Outcome =
  | { readonly kind: "no-gain"; readonly known: StoredReport }
  | { readonly kind: "over-quota" }
  /** A report its origin has revoked (a revocation of it is held): not applied, not passed on. */
  | { readonly kind: "revoked" }
  | {
      readonly kind: "accepted";
      /** The best copy held now. */
      readonly known: StoredReport;
      /** The copy just accepted, which travels on: the best one, or a weaker one with a shorter path. */
      readonly copy: Arrival;
      /** False for the first copy of a report, true for a later copy that improved on those held. */
      readonly improved: boolean;
      readonly score: number;
      /** The IP's contributions the score was computed from (after this copy counted), strongest first. */
      readonly contributions: readonly StoredContribution[];
      /**
       * The score is at or over the threshold and no ban is decided: its first time, or again while
       * a friend's never-ban list holds the ban back (BanRecord.heldBy), so the caller looks again.
       */
      readonly banNow: boolean;
      /** The IP's ban record as it was, looked up only when the score is at or over the threshold. */
      readonly ban: BanRecord | undefined;
      /**
       * A revocation took the score below the threshold of a ban in force (pending or written):
       * the caller lifts it (F2bNode.liftBan) after the commit.
       */
      readonly lift: boolean;
    };

export interface LedgerOptions {
  readonly lifetimeMs: number;
  readonly threshold: number;
  readonly trustOfVia: (via: string) => number;
  /** Most live reports one friend may bring in (our own are not limited). */
  readonly maxReportsPerFriend: number;
}

/**
 * The rules of what a node keeps, over its store: the seen cache (reports by message id, with the
 * best copy of each), the score table (each origin's contribution per IP) and the per-friend quota.
 * The caller passes the time, wraps calls in store transactions and does all other I/O; the trust
 * rules themselves are the pure functions of trust/rules.ts. Reports live for the report lifetime
 * after their own time, which is also how long the protocol accepts them, so the seen cache never
 * forgets a report it could still be sent.
 */
export class Ledger {
  readonly #store: StateStore;
  readonly #options: LedgerOptions;
  readonly #quota: FriendQuota;

  constructor(store: StateStore, options: LedgerOptions) {
    this.#store = store;
    this.#options = options;
    this.#quota = new FriendQuota(options.maxReportsPerFriend, store.broughtCounts());
  }

  get store(): StateStore {
    return this.#store;
  }

  /**
   * A report held, by message id. A stored report whose bytes no longer hash to its id was damaged on
   * disk: it is set aside (and counted) and treated as never seen, so a good copy can replace it.
   */
  known(id: Buffer, now: number): StoredReport | undefined {
    const stored = this.#store.report(id);
    if (stored === undefined || bytesMatchId(stored)) return stored;
    // Counted in the store's set_aside table, which `status` shows.
    this.#store.setAside(id, "bytes do not match the message id", now);
    return undefined;
  }

  /**
   * Records an arrival; accepts it only when it is new or improves on every copy we hold. `lookup`
   * is the result of known() for this id when the caller already made it (in this transaction).
   */
  apply(arrival: Arrival, lookup?: { readonly held: StoredReport | undefined }): Outcome {
    const record = arrival.signed.report;
    // Checked before the seen cache: a copy of a report held from before its revocation must not
    // bring its contribution back either.
    if (record.revocation === undefined && this.isRevoked(record)) return { kind: "revoked" };
    const previous = lookup === undefined ? this.known(arrival.signed.id, arrival.at) : lookup.held;
    if (previous !== undefined) return this.#another(previous, arrival);
    if (this.#quota.full(arrival.via)) return { kind: "over-quota" };
    const known: StoredReport = {
      signed: arrival.signed,
      trust: arrival.trust,
      path: arrival.path,
      via: arrival.via,
      shorter: [],
      expiresAt: arrival.signed.report.time + this.#options.lifetimeMs,
      acceptedAt: arrival.at,
      broughtBy: arrival.via,
    };
    this.#store.insertReport(known);
    this.#quota.add(arrival.via);
    return this.#count(known, arrival, false);
  }

  /** A further copy of a report we hold: kept if it improves on all held copies (rules.isImprovement). */
  #another(held: StoredReport, arrival: Arrival): Outcome {
    const best: CopyMark = { trust: held.trust, hops: held.path.length, path: held.path };
    const marks = [best, ...held.shorter];
    const offered: CopyMark = { trust: arrival.trust, hops: arrival.path.length, path: arrival.path };
    if (!isImprovement(marks, offered)) return { kind: "no-gain", known: held };
    const kept = undominated(marks, offered);
    const takesBest = offered.trust > held.trust;
    const bestCopy = takesBest
      ? { trust: arrival.trust, path: arrival.path, via: arrival.via }
      : { trust: held.trust, path: held.path, via: held.via };
    const known: StoredReport = {
      ...held,
      ...bestCopy,
      shorter: kept.filter((c) => c.trust < bestCopy.trust),
      acceptedAt: arrival.at,
    };
    this.#store.updateBestCopy(known.signed.id, known);
    return this.#count(known, arrival, true);
  }

  /** Brings the IP's score up to date with the report's best copy; says whether to ban it now. */
  #count(known: StoredReport, copy: Arrival, improved: boolean): Outcome {
    if (known.signed.report.revocation !== undefined) return this.#revoke(known, copy, improved);
    const { ip, origin } = known.signed.report;
    this.#store.contribute(ip, {
      origin: origin.toString("hex"),
      trust: known.trust,
      via: known.via,
      hops: known.path.length,
      firstSeen: copy.at,
      expiresAt: known.expiresAt,
    });
    const contributions = this.#store.contributions(ip);
    const score = ipScore(contributions, this.#options.trustOfVia);
    // The ban record is looked up only when the score could ban: most reports stay below. One a
    // friend's never-ban list holds back is no decision yet.
    const ban = score >= this.#options.threshold ? this.#store.ban(ip) : undefined;
    const banNow = reachesThreshold(score, this.#options.threshold, ban !== undefined && !ban.heldBy);
    return { kind: "accepted", known, copy, improved, score, contributions, banNow, ban, lift: false };
  }

  /**
   * A revocation held (docs/protocol.md section 17): its origin's contribution to the IP goes when no
   * report behind it is newer than the revocation, and later copies of those reports are refused.
   */
  #revoke(known: StoredReport, copy: Arrival, improved: boolean): Outcome {
    const { ip, origin, time, revocation } = known.signed.report;
    const originHex = origin.toString("hex");
    this.#store.revoke(ip, {
      origin: originHex,
      time,
      reason: revocation?.reason ?? "",
      expiresAt: known.expiresAt,
    });
    const held = this.#store.contributions(ip).find((c) => c.origin === originHex);
    // A contribution lives as long as the newest report behind it (that report's time + lifetime).
    if (held !== undefined && held.expiresAt - this.#options.lifetimeMs <= time)
      this.#store.withdraw(ip, originHex);
    const contributions = this.#store.contributions(ip);
    const score = ipScore(contributions, this.#options.trustOfVia);
    const ban = this.#store.ban(ip);
    const lift = ban !== undefined && !ban.withheld && score < this.#options.threshold;
    return { kind: "accepted", known, copy, improved, score, contributions, banNow: false, ban, lift };
  }

  /** True when a revocation held withdraws this report: same origin and IP, time not after it. */
  isRevoked(report: OriginReport): boolean {
    const held = this.#store.revocation(report.ip, report.origin.toString("hex"));
    return held !== undefined && report.time <= held.time;
  }

  /** Every revocation held for an IP (origin hex), newest first. */
  revocations(ip: string): StoredRevocation[] {
    return this.#store.revocations(ip);
  }

  /** Current score of an IP (0 when unknown). */
  score(ip: string): number {
    return this.scoreOf(this.#store.contributions(ip));
  }

  /**
   * The score these contributions of one IP add up to (trust/rules.ts ipScore): e.g. without those a
   * friend's never-ban list holds back (node/friend-never-ban.ts).
   */
  scoreOf(contributions: readonly StoredContribution[]): number {
    return ipScore(contributions, this.#options.trustOfVia);
  }

  /** The ban decision for an IP while it has live reports: pending, written or withheld. */
  ban(ip: string): BanRecord | undefined {
    return this.#store.ban(ip);
  }

  /** True when the IP's ban line is in the bans log. */
  isBanned(ip: string): boolean {
    const ban = this.#store.ban(ip);
    return ban !== undefined && ban.writtenAt !== null;
  }

  /** Our own live contribution to an IP, if any: fail2ban calling twice must not start a second wave. */
  ownContribution(ip: string, selfHex: string, now: number): StoredContribution | undefined {
    return this.#store.contributions(ip).find((c) => c.origin === selfHex && c.expiresAt > now);
  }

  /** Each origin's contribution to an IP (origin as hex key), strongest first. */
  contributions(ip: string): StoredContribution[] {
    return this.#store.contributions(ip);
  }

  /**
   * One step of the expiry sweep: forgets up to `step` reports and contributions whose lifetime is
   * over; an IP with none left loses its ban record and may be banned again. Run it in a loop between
   * messages until `done`, so a node holding a million reports never stops for long.
   */
  expireStep(now: number, step = 5000): ExpiredBatch {
    const batch = this.#store.expire(now, step);
    for (const via of batch.broughtBy) this.#quota.remove(via);
    return batch;
  }

  /** Live reports each neighbour brought in, for status. */
  broughtBy(via: string): number {
    return via === VIA_SELF ? 0 : this.#quota.count(via);
  }

  /** After a failed transaction the in-memory quota counts may be ahead of the store: recount. */
  resync(): void {
    this.#quota.reset(this.#store.broughtCounts());
  }
}
