import type { SignedReport } from "../protocol/report.js";
import type { CopyMark } from "../trust/rules.js";

/**
 * What the node keeps across restarts, behind one interface so the node is given a store (as it is
 * given its clock, logger and ZeroMQ context) instead of building one. The SQLite implementation is
 * `SqliteStore`; the rules that decide what to write live in `ledger.ts`, the trust rules in
 * `trust/rules.ts`. Every method is synchronous and may throw a `StoreWriteError` (disk full, I/O
 * error, read-only file); reads of a damaged file throw `StoreDamagedError`.
 */
export interface StateStore {
  /** Where the store lives, for messages (e.g. /var/lib/f2bp2p/state.db). */
  readonly file: string;
  /**
   * Runs `work` as one transaction: all of its writes are committed together or none is. Inside an
   * open transaction it is a savepoint: undone alone when it throws. `durable`: synced to disk before
   * it returns (survives a power loss), not only written (survives the process being killed).
   */
  transaction<T>(work: () => T, options?: { readonly durable?: boolean }): T;
  /** Group commit: begin() opens a transaction that several transaction() calls join. */
  begin(): void;
  commit(options?: { readonly durable?: boolean }): void;
  rollback(): void;
  readonly inTransaction: boolean;

  /** A report by message id (the seen cache), or undefined when it was never accepted or has expired. */
  report(id: Buffer): StoredReport | undefined;
  insertReport(report: StoredReport): void;
  /** Replaces the best copy of a report held (trust, path, via, weaker shorter copies, when accepted). */
  updateBestCopy(id: Buffer, copy: BestCopy): void;

  /** Every origin's contribution to an IP. */
  contributions(ip: string): StoredContribution[];
  /** One origin counts once per IP: with its highest trust, for as long as its newest report lives. */
  contribute(ip: string, contribution: StoredContribution): void;

  /** Deletes an origin's contribution to an IP (origin hex): its reports of it are revoked. */
  withdraw(ip: string, origin: string): void;
  /** Records a revocation held; of two by the same origin for the same IP the later one is kept. */
  revoke(ip: string, revocation: StoredRevocation): void;
  /** The revocation held of `origin`'s (hex) reports of `ip`, if any is live. */
  revocation(ip: string, origin: string): StoredRevocation | undefined;
  /** Every revocation held for an IP. */
  revocations(ip: string): StoredRevocation[];

  /** The ban decision for an IP, if its score ever reached the threshold while it had live reports. */
  ban(ip: string): BanRecord | undefined;
  /** Records that an IP reached the threshold; `written` stays null until its line is in the bans log. */
  decideBan(record: BanRecord): void;
  markBanWritten(ip: string, at: number): void;
  /**
   * Forgets the ban decision for an IP (a ban lifted because its report was revoked, once its
   * UNBAN line is written): new reports may ban it again.
   */
  forgetBan(ip: string): void;
  /** Bans a friend's never-ban list holds back (withheld with `heldBy`), in IP order. */
  heldBans(): BanRecord[];
  /** The newest never-ban list of each friend, as received (docs/protocol.md section 18). */
  neverBanLists(): StoredNeverBanList[];
  /** Keeps a friend's never-ban list in place of the one held. */
  putNeverBanList(list: StoredNeverBanList): void;
  /** Forgets a friend's never-ban list (friend signing key hex). */
  dropNeverBanList(friend: string): void;
  /** Bans decided but not yet written to the bans log, oldest first, at most `limit`. */
  pendingBans(limit: number): BanRecord[];
  /**
   * Bans being lifted: written to the bans log, then withheld, whose UNBAN line is not written yet
   * (`withheld` with a `writtenAt`; see F2bNode.liftBan). At most `limit`, oldest first.
   */
  pendingLifts(limit: number): BanRecord[];
  /** Every ban that is pending or written (not withheld), in IP order: what a new ignore list may lift. */
  activeBans(): Iterable<BanRecord>;

  /** Live reports each friend brought in (signing key hex → count): the per-friend quota's start. */
  broughtCounts(): Map<string, number>;
  /**
   * The catch-up log (docs/protocol.md section 13): live reports (expiry after `now`, ms) whose best
   * copy got its sequence number after `after`, in sequence order, at most `limit`.
   */
  logAfter(after: number, now: number, limit: number): LoggedReport[];
  /** This store's log id (16 bytes): a wiped or new store has a new one, so friends start over. */
  logId(): Buffer;
  /** How far into a friend's log (friend signing key hex) everything has been taken in here. */
  syncCursor(friend: string): SyncCursor | undefined;
  setSyncCursor(friend: string, cursor: SyncCursor, now: number): void;
  /**
   * Deletes up to `limit` reports whose lifetime is over, with their contributions and revocations,
   * and ban records of IPs left with no contribution. Returns what went, so quotas can follow; `done` when none is left.
   */
  expire(now: number, limit: number): ExpiredBatch;
  /** Moves a stored report that failed its re-check out of the live tables, with the reason. */
  setAside(id: Buffer, reason: string, now: number): void;

  counts(): StoreCounts;

  /** Adds to a friend's worth counters (friend signing key hex); creates its row when missing. */
  addFriendWorth(friend: string, delta: FriendWorthDelta): void;
  /** Records one confirmation's lead time (ms); keeps the newest MAX_LEAD_SAMPLES per friend. */
  addLeadTime(friend: string, at: number, leadMs: number): void;
  /** Adds `count` refusals of reason `code` to a friend's tally. */
  addRejections(friend: string, code: string, count: number): void;
  /** Every friend's stored worth: counters, lead times (oldest first), refusals by code. */
  friendWorth(): StoredFriendWorth[];

  close(): void;
}

/** Increments of a friend's worth counters (see StoredFriendWorth). */
export interface FriendWorthDelta {
  readonly brought?: number;
  readonly confirmed?: number;
  readonly bans?: number;
}

/** What the store holds of one friend's worth (docs/trust.md, "What each friend is worth"). */
export interface StoredFriendWorth {
  /** Signing key hex of the friend, or of an import pseudo-friend. */
  readonly friend: string;
  /** Reports whose first copy here came through it. */
  readonly brought: number;
  /** IPs it brought that this node's own jails later banned too. */
  readonly confirmed: number;
  /** Bans decided here with its contribution in the score. */
  readonly bans: number;
  /** Lead time of each kept confirmation, ms (local detection minus its report's arrival). */
  readonly leadTimesMs: readonly number[];
  readonly rejected: Readonly<Record<string, number>>;
}

/** Lead times kept per friend: enough for a stable median, bounded whatever the uptime. */
export const MAX_LEAD_SAMPLES = 1000;

/** The best copy of a report held here: what the node forwards and resends. */
export interface BestCopy {
  readonly trust: number;
  /** Friend signing key hex, or VIA_SELF for our own report. */
  readonly via: string;
  /** Path as it reached us on this copy (origin first, sending friend last); empty for our own. */
  readonly path: readonly Buffer[];
  /** Weaker copies with shorter paths, kept to judge later copies (rules.isImprovement). */
  readonly shorter: readonly CopyMark[];
  /** When this node last accepted a copy of it (its clock, ms). */
  readonly acceptedAt: number;
}

export interface StoredReport extends BestCopy {
  readonly signed: SignedReport;
  /** The neighbour whose copy was first accepted: the report counts against its quota. */
  readonly broughtBy: string;
  /** Origin time + report lifetime, ms. */
  readonly expiresAt: number;
}

export interface StoredContribution {
  /** Origin signing key hex. */
  readonly origin: string;
  readonly trust: number;
  readonly via: string;
  readonly hops: number;
  /** When this node first accepted a report of the IP from this origin (local ms). */
  readonly firstSeen: number;
  readonly expiresAt: number;
}

/** A revocation held (docs/protocol.md section 17): origin's reports of the IP up to `time` do not count. */
export interface StoredRevocation {
  /** Origin signing key hex. */
  readonly origin: string;
  /** Reports of this origin with a time up to this (ms, the origin's clock) are revoked. */
  readonly time: number;
  readonly reason: string;
  /** time + report lifetime: the revocation outlives every report it revokes. */
  readonly expiresAt: number;
}

export interface BanRecord {
  readonly ip: string;
  readonly score: number;
  /** Short id of the origin whose report completed the score. */
  readonly origin: string;
  readonly hops: number;
  /** When the score reached the threshold (local ms). */
  readonly decidedAt: number;
  /** When its line was written to the bans log (local ms); null while pending. */
  readonly writtenAt: number | null;
  /**
   * True when the IP must not be banned: on the never-ban list (decided, never written), or lifted
   * (F2bNode.liftBan). Withheld with a `writtenAt` is a lift whose UNBAN line is not written yet;
   * once it is, `writtenAt` goes back to null. The record stays until its reports expire, so the
   * same reports do not ban the address again.
   */
  readonly withheld: boolean;
  /**
   * Signing key hex of the friend whose never-ban list holds this ban back (withheld, never written),
   * or null. Looked at again when that list changes or expires.
   */
  readonly heldBy?: string | null;
}

/** A friend's never-ban list as received: its bytes and signature, re-checked when loaded. */
export interface StoredNeverBanList {
  /** The friend's signing key, hex. */
  readonly friend: string;
  readonly time: number;
  readonly expiresAt: number;
  readonly bytes: Buffer;
  readonly signature: Buffer;
}

/** A stored report with its place in the catch-up log. */
export interface LoggedReport extends StoredReport {
  /** Sequence number of its best copy: each new or improved copy gets the next one. */
  readonly seq: number;
}

/** A position in a friend's catch-up log: its log id and the last sequence number taken in. */
export interface SyncCursor {
  readonly logId: Buffer;
  readonly after: number;
}

export interface ExpiredBatch {
  /** Friend keys (hex) of the expired reports each friend had brought, one entry per report. */
  readonly broughtBy: readonly string[];
  readonly reports: number;
  /** IPs whose ban record went because no live contribution was left. */
  readonly unbanned: readonly string[];
  readonly done: boolean;
}

export interface StoreCounts {
  readonly reports: number;
  readonly ips: number;
  readonly bans: number;
  readonly pendingBans: number;
  readonly setAside: number;
}

/** The store cannot be read: damaged, not a database, unreadable. Start stops; the file is kept. */
export class StoreDamagedError extends Error {
  readonly code = "ERR_STORE_DAMAGED";
  readonly file: string;
  constructor(file: string, what: string) {
    super(
      `state store ${file}: ${what}. The file was left as it is. Move it aside (or restore a backup) ` +
        "and start again: the node starts empty and friends send what it lacks.",
    );
    this.name = "StoreDamagedError";
    this.file = file;
  }
}

/** A write did not reach the store (disk full, I/O error, read-only): nothing of it was committed. */
export class StoreWriteError extends Error {
  readonly code = "ERR_STORE_WRITE";
  /** A short stable cause for logs and once-per-cause reporting, e.g. "no space left on device". */
  readonly reason: string;
  constructor(file: string, cause: string) {
    super(`state store ${file}: ${cause}`);
    this.name = "StoreWriteError";
    this.reason = cause;
  }
}

/** Another node holds the state dir: a second node would corrupt what the first one writes. */
export class StoreLockedError extends Error {
  readonly code = "ERR_STORE_LOCKED";
  constructor(dir: string) {
    super(
      `state dir ${dir} is in use by another running f2bp2p node; stop it first ` +
        "(systemctl stop f2bp2p) or give this one its own state_dir",
    );
    this.name = "StoreLockedError";
  }
}
