import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { KEY_BYTES } from "../protocol/constants.js";
import { decodeRecord } from "../protocol/revocation.js";
import { sha256 } from "../protocol/signing.js";
import { type CopyMark, VIA_SELF } from "../trust/rules.js";
import { createOwnedLikeParent } from "../util/owner.js";
import { Checkpointer, WAL_BACKSTOP_PAGES } from "./checkpointer.js";
import { LOG_ID_BYTES, MIGRATIONS, SCHEMA_VERSION } from "./schema.js";
import {
  type BanRecord,
  type BestCopy,
  type ExpiredBatch,
  type FriendWorthDelta,
  type LoggedReport,
  MAX_LEAD_SAMPLES,
  type StateStore,
  type StoreCounts,
  StoreDamagedError,
  type StoredContribution,
  type StoredFriendWorth,
  type StoredNeverBanList,
  type StoredReport,
  type StoredRevocation,
  StoreWriteError,
  type SyncCursor,
} from "./store.js";

export const STORE_FILE = "state.db";

/**
 * Page cache of the store's connection: what the node's memory holds of the database, whatever the
 * number of reports (SQLite's `cache_size`, in KiB when negative).
 */
const CACHE_KIB = 8192;
/** How long opening the store waits for a lock another connection holds, ms. */
const OPEN_BUSY_TIMEOUT_MS = 2_000;
/** The write-ahead log is cut back to this size after a checkpoint (SQLite journal_size_limit). */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

type Row = Record<string, unknown>;

/**
 * The state store in one SQLite database (`state_dir/state.db`), in WAL mode with synchronous=NORMAL:
 * a committed transaction survives the process being killed at any point; a power loss can take back
 * the last commits before the WAL was synced, except those committed with `durable: true` (our own
 * reports, which fail2ban's action waits for), which are synced before the commit returns.
 * docs/configuration.md ("What survives a crash") says the same for the sysadmin.
 */
export class SqliteStore implements StateStore {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #s: ReturnType<typeof prepare>;
  /**
   * The last catch-up sequence number handed out. It never goes back, also when the reports that
   * carried the highest numbers expire (meta `seq_floor` keeps it): a friend's cursor past a number
   * must never miss a report numbered later.
   */
  #seq = 0;
  #logId: Buffer | undefined;
  #worthStatements: ReturnType<typeof prepareWorth> | undefined;
  #checkpointer: Checkpointer | undefined;
  /**
   * better-sqlite3's transaction wrapper (a savepoint when nested), made once: making one per call
   * costs several times the savepoint itself, and the node opens one per message and sync slice.
   */
  #transactionWrapper: ((body: () => unknown) => unknown) | undefined;
  /**
   * Reports each friend (hex key) brought in by the open transaction, not yet in friend_counts: added
   * with one statement per friend just before the transaction commits, instead of one per report.
   */
  #broughtNow = new Map<string, number>();
  /** The same for friend_worth counters (a ban credits each friend in its score): one UPSERT per friend. */
  #worthNow = new Map<string, { brought: number; confirmed: number; bans: number }>();
  /**
   * False only when the revocations table is known to be empty (the usual case): every report's
   * revocation lookup, on arrival and before it leaves, is then skipped. True after any revoke, also
   * one rolled back (only a cost); unknown again after expiry deletes some or a rollback.
   */
  #revocationsHeld: boolean | undefined;

  /**
   * Opens (or creates) the store. Throws StoreDamagedError when the file is not a readable, intact
   * database of a version this code knows; the file is then left untouched. `backgroundCheckpoints`
   * (the running node): WAL checkpoints run on a worker thread (checkpointer.ts), not in commits.
   * `onUpgrade`: called with the file, its schema version and this code's before an older store is
   * upgraded in place (schema.ts), which can take a while with many reports.
   */
  constructor(
    stateDir: string,
    options: {
      readonly integrityCheck?: boolean;
      readonly readOnly?: boolean;
      readonly backgroundCheckpoints?: boolean;
      readonly onUpgrade?: (file: string, from: number, to: number) => void;
    } = {},
  ) {
    this.file = path.join(stateDir, STORE_FILE);
    const readOnly = options.readOnly === true;
    if (!fs.existsSync(this.file)) {
      if (readOnly) throw new StoreDamagedError(this.file, "there is no state store yet (has the node run?)");
      createEmpty(this.file);
    } else checkReadable(this.file, readOnly);
    try {
      this.#db = new Database(this.file, {
        fileMustExist: true,
        // A lock held a moment longer by another connection (a checkpoint thread of a node that
        // just closed the store, a sysadmin's sqlite3) is waited for while opening, not taken for
        // damage; the node's own writes then never wait (busy_timeout 0 below).
        timeout: readOnly ? 5000 : OPEN_BUSY_TIMEOUT_MS,
        readonly: readOnly,
      });
    } catch (err: unknown) {
      throw damaged(this.file, err);
    }
    if (readOnly) {
      const version = this.#db.pragma("user_version", { simple: true }) as number;
      if (version !== SCHEMA_VERSION) {
        this.#db.close();
        throw new StoreDamagedError(
          this.file,
          `it has schema ${version} and this f2bp2p reads schema ${SCHEMA_VERSION}; ` +
            "start the node (f2bp2p run) once so it upgrades the store",
        );
      }
      this.#s = prepare(this.#db);
      return;
    }
    try {
      this.#db.pragma("journal_mode = WAL");
      this.#db.pragma("synchronous = NORMAL");
      this.#db.pragma(`cache_size = -${CACHE_KIB}`);
      this.#db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
      this.#db.pragma("foreign_keys = OFF");
      this.#db.pragma("trusted_schema = OFF");
      this.#db.pragma("cell_size_check = ON");
      if (options.integrityCheck ?? true) this.#quickCheck();
      this.#migrate(options.onUpgrade);
      this.#db.pragma("busy_timeout = 0");
      this.#s = prepare(this.#db);
      this.#seq = this.#highestSeq();
      if (options.backgroundCheckpoints === true) this.#checkpointInBackground();
    } catch (err: unknown) {
      this.#db.close();
      if (err instanceof StoreDamagedError) throw err;
      throw damaged(this.file, err);
    }
  }

  /** SQLite's own structural check of every page (PRAGMA quick_check); damage stops the start. */
  #quickCheck(): void {
    const rows = this.#db.pragma("quick_check(5)") as Row[];
    const problems = rows.map((r) => String(Object.values(r)[0])).filter((v) => v !== "ok");
    if (problems.length > 0) {
      throw new StoreDamagedError(this.file, `SQLite's quick_check found damage: ${problems.join("; ")}`);
    }
  }

  /** Hands checkpoints to a worker thread; should it fail, this connection checkpoints again itself. */
  #checkpointInBackground(): void {
    const defaultPages = this.#db.pragma("wal_autocheckpoint", { simple: true }) as number;
    this.#db.pragma(`wal_autocheckpoint = ${WAL_BACKSTOP_PAGES}`);
    this.#checkpointer = new Checkpointer(this.file, () => {
      this.#checkpointer = undefined;
      if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${defaultPages}`);
    });
  }

  #migrate(onUpgrade?: (file: string, from: number, to: number) => void): void {
    const version = this.#db.pragma("user_version", { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new StoreDamagedError(
        this.file,
        `it was written by a newer f2bp2p (schema ${version}; this one knows up to ${SCHEMA_VERSION})`,
      );
    }
    // A new store (version 0) is created, not upgraded: nothing to say.
    if (version > 0 && version < SCHEMA_VERSION) onUpgrade?.(this.file, version, SCHEMA_VERSION);
    for (let v = version; v < SCHEMA_VERSION; v++) {
      this.#db.transaction(() => {
        this.#db.exec(MIGRATIONS[v]!);
        this.#db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  #highestSeq(): number {
    const max = (this.#s.maxSeq.get() as { n: number | null }).n ?? 0;
    const floor = Number((this.#s.metaGet.get("seq_floor") as Row | undefined)?.value ?? 0);
    return Math.max(max, floor);
  }

  transaction<T>(work: () => T, options: { readonly durable?: boolean } = {}): T {
    const nested = this.#db.inTransaction;
    // Undone with the transaction (or savepoint) when `work` throws.
    const brought = new Map(this.#broughtNow);
    const worth = new Map([...this.#worthNow].map(([friend, d]) => [friend, { ...d }]));
    let result: T;
    try {
      result = this.#writing(() =>
        this.#runInTransaction(() => {
          const done = work();
          if (!nested) this.#addCounters();
          return done;
        }),
      );
    } catch (err: unknown) {
      this.#broughtNow = brought;
      this.#worthNow = worth;
      this.#revocationsHeld = undefined;
      throw err;
    }
    if (options.durable === true && !nested) this.#syncWal();
    return result;
  }

  #runInTransaction<T>(body: () => T): T {
    this.#transactionWrapper ??= this.#db.transaction((b: () => unknown) => b());
    return this.#transactionWrapper(body) as T;
  }

  get inTransaction(): boolean {
    return this.#db.inTransaction;
  }

  begin(): void {
    this.#writing(() => this.#db.exec("BEGIN"));
  }

  commit(options: { readonly durable?: boolean } = {}): void {
    this.#writing(() => {
      this.#addCounters();
      this.#db.exec("COMMIT");
    });
    if (options.durable === true) this.#syncWal();
  }

  /** Rolls back the open transaction, if SQLite has not already done so after an error. */
  rollback(): void {
    this.#broughtNow.clear();
    this.#worthNow.clear();
    this.#revocationsHeld = undefined;
    if (this.#db.inTransaction) this.#writing(() => this.#db.exec("ROLLBACK"));
  }

  /**
   * With synchronous=NORMAL a commit is in the WAL file but not yet on the disk; syncing the WAL makes
   * it survive a power loss too. Used for commits someone waits on (fail2ban's `report`).
   */
  #syncWal(): void {
    this.#writing(() => {
      const fd = fs.openSync(`${this.file}-wal`, "r");
      try {
        fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    });
  }

  report(id: Buffer): StoredReport | undefined {
    const row = this.#s.report.get(id) as Row | undefined;
    return row === undefined ? undefined : this.#toReport(id, row);
  }

  insertReport(r: StoredReport): void {
    const { signed } = r;
    const broughtBy = viaBlob(r.broughtBy);
    this.#writing(() => {
      this.#s.insertReport.run(
        signed.id,
        signed.bytes,
        signed.signature,
        r.trust,
        Buffer.concat(r.path as Buffer[]),
        shorterText(r.shorter),
        broughtBy,
        r.acceptedAt,
        r.expiresAt,
        ++this.#seq,
      );
    });
    if (broughtBy === null) return;
    this.#broughtNow.set(r.broughtBy, (this.#broughtNow.get(r.broughtBy) ?? 0) + 1);
    // Outside a transaction the insert is committed already: so is its count.
    if (!this.#db.inTransaction) this.#writing(() => this.#addCounters());
  }

  /**
   * Inside the transaction, before it commits: the friend counts of the reports it inserted and the
   * friend_worth counters it added to.
   */
  #addCounters(): void {
    for (const [friend, delta] of this.#broughtNow)
      this.#s.countFriend.run({ friend: Buffer.from(friend, "hex"), delta });
    this.#broughtNow.clear();
    for (const [friend, d] of this.#worthNow)
      this.#w.addWorth.run({ friend: Buffer.from(friend, "hex"), ...d });
    this.#worthNow.clear();
  }

  updateBestCopy(id: Buffer, c: BestCopy): void {
    this.#writing(() =>
      this.#s.updateBest.run(
        c.trust,
        Buffer.concat(c.path as Buffer[]),
        shorterText(c.shorter),
        c.acceptedAt,
        ++this.#seq,
        id,
      ),
    );
  }

  contributions(ip: string): StoredContribution[] {
    return (this.#s.contributions.all(ip) as Row[]).map((row) => ({
      origin: (row.origin as Buffer).toString("hex"),
      trust: row.trust as number,
      via: viaText(row.via),
      hops: row.hops as number,
      firstSeen: row.first_seen as number,
      expiresAt: row.expires_at as number,
    }));
  }

  contribute(ip: string, c: StoredContribution): void {
    this.#writing(() =>
      this.#s.contribute.run(
        ip,
        Buffer.from(c.origin, "hex"),
        c.trust,
        viaBlob(c.via),
        c.hops,
        c.firstSeen,
        c.expiresAt,
      ),
    );
  }

  withdraw(ip: string, origin: string): void {
    this.#writing(() => this.#s.withdraw.run(ip, Buffer.from(origin, "hex")));
  }

  revoke(ip: string, r: StoredRevocation): void {
    this.#writing(() => this.#s.revoke.run(ip, Buffer.from(r.origin, "hex"), r.time, r.reason, r.expiresAt));
    this.#revocationsHeld = true;
  }

  #anyRevocations(): boolean {
    this.#revocationsHeld ??= this.#s.anyRevocation.get() !== undefined;
    return this.#revocationsHeld;
  }

  revocation(ip: string, origin: string): StoredRevocation | undefined {
    if (!this.#anyRevocations()) return undefined;
    const row = this.#s.revocation.get(ip, Buffer.from(origin, "hex")) as Row | undefined;
    return row === undefined ? undefined : toRevocation(row);
  }

  revocations(ip: string): StoredRevocation[] {
    if (!this.#anyRevocations()) return [];
    return (this.#s.revocations.all(ip) as Row[]).map(toRevocation);
  }

  ban(ip: string): BanRecord | undefined {
    const row = this.#s.ban.get(ip) as Row | undefined;
    return row === undefined ? undefined : toBan(row);
  }

  decideBan(b: BanRecord): void {
    this.#writing(() =>
      this.#s.decideBan.run(
        b.ip,
        b.score,
        b.origin,
        b.hops,
        b.decidedAt,
        b.writtenAt,
        b.withheld ? 1 : 0,
        b.heldBy ? Buffer.from(b.heldBy, "hex") : null,
      ),
    );
  }

  heldBans(): BanRecord[] {
    return (this.#s.heldBans.all() as Row[]).map(toBan);
  }

  neverBanLists(): StoredNeverBanList[] {
    return (this.#s.neverBanLists.all() as Row[]).map((row) => ({
      friend: (row.friend as Buffer).toString("hex"),
      time: row.time as number,
      expiresAt: row.expires_at as number,
      bytes: row.bytes as Buffer,
      signature: row.signature as Buffer,
    }));
  }

  putNeverBanList(l: StoredNeverBanList): void {
    this.#writing(() =>
      this.#s.putNeverBanList.run(Buffer.from(l.friend, "hex"), l.time, l.expiresAt, l.bytes, l.signature),
    );
  }

  dropNeverBanList(friend: string): void {
    this.#writing(() => this.#s.dropNeverBanList.run(Buffer.from(friend, "hex")));
  }

  forgetBan(ip: string): void {
    this.#writing(() => this.#s.dropBan.run(ip));
  }

  markBanWritten(ip: string, at: number): void {
    this.#writing(() => this.#s.markBanWritten.run(at, ip));
  }

  pendingBans(limit: number): BanRecord[] {
    return (this.#s.pendingBans.all(limit) as Row[]).map(toBan);
  }

  pendingLifts(limit: number): BanRecord[] {
    return (this.#s.pendingLifts.all(limit) as Row[]).map(toBan);
  }

  *activeBans(): Generator<BanRecord> {
    for (const row of this.#s.activeBans.iterate() as Iterable<Row>) yield toBan(row);
  }

  broughtCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const row of this.#s.broughtCounts.all() as Row[]) {
      if ((row.reports as number) > 0)
        counts.set((row.friend as Buffer).toString("hex"), row.reports as number);
    }
    for (const [friend, delta] of this.#broughtNow) counts.set(friend, (counts.get(friend) ?? 0) + delta);
    return counts;
  }

  logAfter(after: number, now: number, limit: number): LoggedReport[] {
    const rows = this.#s.logAfter.all(after, now, limit) as Row[];
    return rows.map((row) => ({ ...this.#toReport(row.id as Buffer, row), seq: row.seq as number }));
  }

  logId(): Buffer {
    if (this.#logId === undefined) {
      const text = (this.#s.metaGet.get("log_id") as Row | undefined)?.value;
      const id = typeof text === "string" ? Buffer.from(text, "hex") : Buffer.alloc(0);
      if (id.length !== LOG_ID_BYTES)
        throw new StoreDamagedError(this.file, "its catch-up log id is missing");
      this.#logId = id;
    }
    return this.#logId;
  }

  syncCursor(friend: string): SyncCursor | undefined {
    const row = this.#s.syncCursor.get(Buffer.from(friend, "hex")) as Row | undefined;
    return row === undefined ? undefined : { logId: row.log_id as Buffer, after: row.after as number };
  }

  setSyncCursor(friend: string, cursor: SyncCursor, now: number): void {
    this.#writing(() =>
      this.#s.setSyncCursor.run(Buffer.from(friend, "hex"), cursor.logId, cursor.after, now),
    );
  }

  expire(now: number, limit: number): ExpiredBatch {
    return this.transaction(() => {
      this.#keepSeqFloor();
      const reports = this.#s.expireReports.all(now, limit) as Row[];
      const broughtBy: string[] = [];
      for (const row of reports) {
        if (row.brought_by === null) continue;
        broughtBy.push(viaText(row.brought_by));
        this.#s.countFriend.run({ friend: row.brought_by, delta: -1 });
      }
      const contributionIps = this.#s.expireContributions.all(now, limit) as Row[];
      const revocationIps = this.#s.expireRevocations.all(now, limit) as Row[];
      if (revocationIps.length > 0) this.#revocationsHeld = undefined;
      const unbanned: string[] = [];
      const ips = [...contributionIps, ...revocationIps].map((r) => r.ip as string);
      for (const ip of new Set(ips)) {
        if (this.#s.anyContribution.get(ip) !== undefined) continue;
        if (this.#s.dropBan.run(ip).changes > 0) unbanned.push(ip);
      }
      const done = reports.length < limit && contributionIps.length < limit && revocationIps.length < limit;
      return { broughtBy, reports: reports.length, unbanned, done };
    });
  }

  setAside(id: Buffer, reason: string, now: number): void {
    this.transaction(() => {
      this.#keepSeqFloor();
      this.#s.setAside.run(reason, now, id);
      const dropped = this.#s.dropReport.get(id) as Row | undefined;
      if (dropped !== undefined && dropped.brought_by !== null)
        this.#s.countFriend.run({ friend: dropped.brought_by, delta: -1 });
    });
  }

  /** Before reports go, the highest sequence number handed out is kept, so it is never reused. */
  #keepSeqFloor(): void {
    this.#s.metaSet.run("seq_floor", String(this.#seq));
  }

  counts(): StoreCounts {
    const n = (stmt: Database.Statement): number => (stmt.get() as { n: number }).n;
    return {
      reports: n(this.#s.countReports),
      ips: n(this.#s.countIps),
      bans: n(this.#s.countBans),
      pendingBans: n(this.#s.countPending),
      setAside: n(this.#s.countSetAside),
    };
  }

  get #w(): ReturnType<typeof prepareWorth> {
    this.#worthStatements ??= this.#writing(() => prepareWorth(this.#db));
    return this.#worthStatements;
  }

  addFriendWorth(friend: string, d: FriendWorthDelta): void {
    const held = this.#worthNow.get(friend) ?? { brought: 0, confirmed: 0, bans: 0 };
    held.brought += d.brought ?? 0;
    held.confirmed += d.confirmed ?? 0;
    held.bans += d.bans ?? 0;
    this.#worthNow.set(friend, held);
    // Outside a transaction it is written at once; inside, once per friend before the commit.
    if (!this.#db.inTransaction) this.#writing(() => this.#addCounters());
  }

  addLeadTime(friend: string, at: number, leadMs: number): void {
    const key = Buffer.from(friend, "hex");
    this.transaction(() => {
      this.#w.addLeadTime.run(key, at, leadMs);
      this.#w.pruneLeadTimes.run({ friend: key, keep: MAX_LEAD_SAMPLES });
    });
  }

  addRejections(friend: string, code: string, count: number): void {
    this.#writing(() => this.#w.addRejections.run({ friend: Buffer.from(friend, "hex"), code, count }));
  }

  friendWorth(): StoredFriendWorth[] {
    const byFriend = new Map<
      string,
      {
        brought: number;
        confirmed: number;
        bans: number;
        leadTimesMs: number[];
        rejected: Record<string, number>;
      }
    >();
    const entry = (blob: unknown) => {
      const friend = (blob as Buffer).toString("hex");
      let e = byFriend.get(friend);
      if (e === undefined) {
        e = { brought: 0, confirmed: 0, bans: 0, leadTimesMs: [], rejected: {} };
        byFriend.set(friend, e);
      }
      return e;
    };
    for (const row of this.#w.worth.all() as Row[]) {
      const e = entry(row.friend);
      e.brought = row.brought as number;
      e.confirmed = row.confirmed as number;
      e.bans = row.bans as number;
    }
    for (const [friend, d] of this.#worthNow) {
      const e = entry(Buffer.from(friend, "hex"));
      e.brought += d.brought;
      e.confirmed += d.confirmed;
      e.bans += d.bans;
    }
    for (const row of this.#w.leadTimes.all() as Row[])
      entry(row.friend).leadTimesMs.push(row.lead_ms as number);
    for (const row of this.#w.rejections.all() as Row[])
      entry(row.friend).rejected[row.code as string] = row.count as number;
    return [...byFriend].map(([friend, e]) => ({ friend, ...e }));
  }

  /**
   * Every IP with a live contribution, with its contributions and ban record, for `f2bp2p bans`;
   * one IP (`ip`) or all, in IP order. Streams: memory stays flat however many there are.
   */
  *ips(
    ip?: string,
  ): Generator<{ ip: string; contributions: StoredContribution[]; ban: BanRecord | undefined }> {
    const rows = (
      ip === undefined ? this.#s.allContributions.iterate() : this.#s.contributionsOf.iterate(ip)
    ) as Iterable<Row>;
    let current: { ip: string; contributions: StoredContribution[]; ban: BanRecord | undefined } | undefined;
    for (const row of rows) {
      const rowIp = row.ip as string;
      if (current?.ip !== rowIp) {
        if (current !== undefined) yield current;
        current = {
          ip: rowIp,
          contributions: [],
          ban:
            row.score === null
              ? undefined
              : toBan({ ...row, ip: rowIp, hops: row.ban_hops, origin: row.ban_origin }),
        };
      }
      current.contributions.push({
        origin: (row.origin as Buffer).toString("hex"),
        trust: row.trust as number,
        via: viaText(row.via),
        hops: row.hops as number,
        firstSeen: row.first_seen as number,
        expiresAt: row.expires_at as number,
      });
    }
    if (current !== undefined) yield current;
  }

  /** Every revocation held (one IP's, or all), in IP order, for `f2bp2p bans`. Streams. */
  *revocationList(ip?: string): Generator<{ ip: string } & StoredRevocation> {
    const rows = (
      ip === undefined ? this.#s.allRevocations.iterate() : this.#s.revocations.iterate(ip)
    ) as Iterable<Row>;
    for (const row of rows) yield { ip: row.ip as string, ...toRevocation(row) };
  }

  close(): void {
    this.#checkpointer?.stop();
    this.#checkpointer = undefined;
    if (!this.#db.open) return;
    try {
      this.#db.pragma("optimize");
    } catch {
      // A store that cannot write any more still closes; its WAL is replayed at the next open.
    }
    this.#db.close();
  }

  #toReport(id: Buffer, row: Row): StoredReport {
    const bytes = row.bytes as Buffer;
    const decoded = decodeRecord(bytes, false);
    // A report whose bytes no longer parse is damage on disk: the caller re-checks before using it.
    const report = decoded.ok
      ? decoded.value
      : { ip: "", time: 0, origin: Buffer.alloc(KEY_BYTES), jail: "" };
    const path = splitPath(row.path as Buffer);
    return {
      signed: { report, bytes, signature: row.signature as Buffer, id: Buffer.from(id) },
      trust: row.trust as number,
      // The copy came through the last node of its path; an empty path is our own report.
      via: path.length === 0 ? VIA_SELF : path[path.length - 1]!.toString("hex"),
      path,
      shorter: parseShorter(row.shorter),
      broughtBy: viaText(row.brought_by),
      acceptedAt: row.accepted_at as number,
      expiresAt: row.expires_at as number,
    };
  }

  /** Runs a write; SQLite's errors become StoreWriteError (or StoreDamagedError) with a plain cause. */
  #writing<T>(work: () => T): T {
    try {
      return work();
    } catch (err: unknown) {
      throw storeError(this.file, err);
    }
  }
}

const IPS_QUERY = `SELECT c.ip, c.origin, c.trust, c.via, c.hops, c.first_seen, c.expires_at,
    b.score, b.origin AS ban_origin, b.hops AS ban_hops, b.decided_at, b.written_at, b.withheld, b.held_by
  FROM contributions c LEFT JOIN bans b ON b.ip = c.ip`;

function prepare(db: Database.Database) {
  const columns = "bytes, signature, trust, path, shorter, brought_by, accepted_at, expires_at";
  return {
    report: db.prepare(`SELECT ${columns} FROM reports WHERE id = ?`),
    insertReport: db.prepare(`INSERT INTO reports (id, ${columns}, seq) VALUES (?,?,?,?,?,?,?,?,?,?)`),
    updateBest: db.prepare(
      "UPDATE reports SET trust = ?, path = ?, shorter = ?, accepted_at = ?, seq = ? WHERE id = ?",
    ),
    maxSeq: db.prepare("SELECT max(seq) AS n FROM reports"),
    metaGet: db.prepare("SELECT value FROM meta WHERE key = ?"),
    metaSet: db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"),
    logAfter: db.prepare(
      `SELECT id, seq, ${columns} FROM reports WHERE seq > ? AND expires_at > ? ORDER BY seq LIMIT ?`,
    ),
    syncCursor: db.prepare("SELECT log_id, after FROM sync_cursors WHERE friend = ?"),
    setSyncCursor: db.prepare(
      "INSERT OR REPLACE INTO sync_cursors (friend, log_id, after, updated_at) VALUES (?,?,?,?)",
    ),
    countFriend: db.prepare(
      `INSERT INTO friend_counts (friend, reports) VALUES (:friend, :delta)
       ON CONFLICT (friend) DO UPDATE SET reports = reports + :delta`,
    ),
    contributions: db.prepare(
      "SELECT origin, trust, via, hops, first_seen, expires_at FROM contributions WHERE ip = ? ORDER BY trust DESC",
    ),
    // SET expressions see the row before the update: via and hops follow the higher trust.
    contribute: db.prepare(
      `INSERT INTO contributions (ip, origin, trust, via, hops, first_seen, expires_at) VALUES (?,?,?,?,?,?,?)
       ON CONFLICT (ip, origin) DO UPDATE SET
         via = CASE WHEN excluded.trust > trust THEN excluded.via ELSE via END,
         hops = CASE WHEN excluded.trust > trust THEN excluded.hops ELSE hops END,
         trust = max(trust, excluded.trust),
         expires_at = max(expires_at, excluded.expires_at)`,
    ),
    withdraw: db.prepare("DELETE FROM contributions WHERE ip = ? AND origin = ?"),
    revoke: db.prepare(
      `INSERT INTO revocations (ip, origin, time, reason, expires_at) VALUES (?,?,?,?,?)
       ON CONFLICT (ip, origin) DO UPDATE SET
         reason = CASE WHEN excluded.time > time THEN excluded.reason ELSE reason END,
         time = max(time, excluded.time),
         expires_at = max(expires_at, excluded.expires_at)`,
    ),
    revocation: db.prepare("SELECT * FROM revocations WHERE ip = ? AND origin = ?"),
    anyRevocation: db.prepare("SELECT 1 FROM revocations LIMIT 1"),
    allRevocations: db.prepare("SELECT * FROM revocations ORDER BY ip, time DESC"),
    revocations: db.prepare("SELECT * FROM revocations WHERE ip = ? ORDER BY time DESC"),
    expireRevocations: db.prepare(
      `DELETE FROM revocations WHERE (ip, origin) IN
         (SELECT ip, origin FROM revocations WHERE expires_at <= ? LIMIT ?)
       RETURNING ip`,
    ),
    anyContribution: db.prepare("SELECT 1 FROM contributions WHERE ip = ? LIMIT 1"),
    ban: db.prepare("SELECT * FROM bans WHERE ip = ?"),
    decideBan: db.prepare(
      `INSERT OR REPLACE INTO bans (ip, score, origin, hops, decided_at, written_at, withheld, held_by)
       VALUES (?,?,?,?,?,?,?,?)`,
    ),
    heldBans: db.prepare("SELECT * FROM bans WHERE held_by IS NOT NULL ORDER BY ip"),
    neverBanLists: db.prepare("SELECT * FROM never_ban_lists ORDER BY friend"),
    putNeverBanList: db.prepare(
      "INSERT OR REPLACE INTO never_ban_lists (friend, time, expires_at, bytes, signature) VALUES (?,?,?,?,?)",
    ),
    dropNeverBanList: db.prepare("DELETE FROM never_ban_lists WHERE friend = ?"),
    markBanWritten: db.prepare("UPDATE bans SET written_at = ? WHERE ip = ?"),
    pendingBans: db.prepare(
      "SELECT * FROM bans WHERE written_at IS NULL AND withheld = 0 ORDER BY decided_at LIMIT ?",
    ),
    pendingLifts: db.prepare(
      "SELECT * FROM bans WHERE written_at IS NOT NULL AND withheld = 1 ORDER BY written_at LIMIT ?",
    ),
    activeBans: db.prepare("SELECT * FROM bans WHERE withheld = 0 ORDER BY ip"),
    dropBan: db.prepare("DELETE FROM bans WHERE ip = ?"),
    broughtCounts: db.prepare("SELECT friend, reports FROM friend_counts"),
    expireReports: db.prepare(
      `DELETE FROM reports WHERE id IN (SELECT id FROM reports WHERE expires_at <= ? LIMIT ?)
       RETURNING brought_by`,
    ),
    expireContributions: db.prepare(
      `DELETE FROM contributions WHERE (ip, origin) IN
         (SELECT ip, origin FROM contributions WHERE expires_at <= ? LIMIT ?)
       RETURNING ip`,
    ),
    setAside: db.prepare(
      "INSERT INTO set_aside (id, reason, at, bytes, signature) SELECT id, ?, ?, bytes, signature FROM reports WHERE id = ?",
    ),
    dropReport: db.prepare("DELETE FROM reports WHERE id = ? RETURNING brought_by"),
    countReports: db.prepare("SELECT count(*) AS n FROM reports"),
    countIps: db.prepare("SELECT count(DISTINCT ip) AS n FROM contributions"),
    countBans: db.prepare("SELECT count(*) AS n FROM bans WHERE written_at IS NOT NULL"),
    countPending: db.prepare("SELECT count(*) AS n FROM bans WHERE written_at IS NULL AND withheld = 0"),
    countSetAside: db.prepare("SELECT count(*) AS n FROM set_aside"),
    allContributions: db.prepare(`${IPS_QUERY} ORDER BY c.ip, c.trust DESC`),
    contributionsOf: db.prepare(`${IPS_QUERY} WHERE c.ip = ? ORDER BY c.trust DESC`),
  };
}

/**
 * The friend-worth statements, prepared on first use: a read-only store opened while an older node
 * still runs (schema not yet migrated) must open for everything else.
 */
function prepareWorth(db: Database.Database) {
  return {
    addWorth: db.prepare(
      `INSERT INTO friend_worth (friend, brought, confirmed, bans) VALUES (:friend, :brought, :confirmed, :bans)
       ON CONFLICT (friend) DO UPDATE SET brought = brought + :brought, confirmed = confirmed + :confirmed,
         bans = bans + :bans`,
    ),
    addLeadTime: db.prepare("INSERT INTO friend_lead_times (friend, at, lead_ms) VALUES (?,?,?)"),
    pruneLeadTimes: db.prepare(
      `DELETE FROM friend_lead_times WHERE friend = :friend AND rowid NOT IN
         (SELECT rowid FROM friend_lead_times WHERE friend = :friend ORDER BY at DESC, rowid DESC LIMIT :keep)`,
    ),
    addRejections: db.prepare(
      `INSERT INTO friend_rejections (friend, code, count) VALUES (:friend, :code, :count)
       ON CONFLICT (friend, code) DO UPDATE SET count = count + :count`,
    ),
    worth: db.prepare("SELECT friend, brought, confirmed, bans FROM friend_worth"),
    leadTimes: db.prepare("SELECT friend, lead_ms FROM friend_lead_times ORDER BY friend, at, rowid"),
    rejections: db.prepare("SELECT friend, code, count FROM friend_rejections"),
  };
}

/**
 * A new store is built under a temporary name and renamed into place, so `state.db` is always a whole
 * database: an empty or half-made file at that name can only be damage, never our own crash.
 */
function createEmpty(file: string): void {
  const tmp = `${file}.new`;
  fs.rmSync(tmp, { force: true });
  createOwnedLikeParent(tmp, 0o600);
  const db = new Database(tmp);
  try {
    db.pragma("journal_mode = DELETE");
    db.transaction(() => {
      for (const [i, migration] of MIGRATIONS.entries()) {
        db.exec(migration);
        db.pragma(`user_version = ${i + 1}`);
      }
    })();
  } finally {
    db.close();
  }
  fs.renameSync(tmp, file);
}

function checkReadable(file: string, readOnly: boolean): void {
  let size: number;
  try {
    const mode = readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR;
    const fd = fs.openSync(file, mode | fs.constants.O_NOFOLLOW);
    size = fs.fstatSync(fd).size;
    fs.closeSync(fd);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    const what =
      code === "EACCES"
        ? "permission denied (the node must own it: chown it to the user the node runs as)"
        : code === "ELOOP"
          ? "it is a symbolic link, which the node does not follow"
          : `cannot open it (${code ?? String(err)})`;
    throw new StoreDamagedError(file, what);
  }
  if (size === 0) throw new StoreDamagedError(file, "the file is empty (zero length), not a database");
}

function damaged(file: string, err: unknown): StoreDamagedError {
  if (err instanceof StoreDamagedError) return err;
  const code = (err as { code?: string }).code ?? "";
  const message = err instanceof Error ? err.message : String(err);
  if (code === "SQLITE_NOTADB") return new StoreDamagedError(file, "it is not an SQLite database");
  if (code.startsWith("SQLITE_CORRUPT")) return new StoreDamagedError(file, `it is damaged (${message})`);
  return new StoreDamagedError(file, `cannot be read (${code || message})`);
}

/** SQLite's result codes in words a sysadmin acts on. */
function storeError(file: string, err: unknown): Error {
  if (err instanceof StoreWriteError || err instanceof StoreDamagedError) return err;
  const code = (err as { code?: string }).code ?? "";
  if (code === "SQLITE_FULL") return new StoreWriteError(file, "no space left on device");
  if (code.startsWith("SQLITE_IOERR")) return new StoreWriteError(file, `I/O error (${code})`);
  if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN"))
    return new StoreWriteError(file, `cannot write (${code}: permission denied or read-only file system)`);
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") return damaged(file, err);
  if (code.startsWith("SQLITE_")) return new StoreWriteError(file, `${code}`);
  const errno = (err as NodeJS.ErrnoException).code;
  if (errno === "ENOSPC") return new StoreWriteError(file, "no space left on device");
  if (errno === "EIO") return new StoreWriteError(file, "I/O error (EIO)");
  return err instanceof Error ? err : new Error(String(err));
}

function viaBlob(via: string): Buffer | null {
  return via === VIA_SELF ? null : Buffer.from(via, "hex");
}

function viaText(blob: unknown): string {
  return blob === null || blob === undefined ? VIA_SELF : (blob as Buffer).toString("hex");
}

function splitPath(blob: Buffer): Buffer[] {
  const keys: Buffer[] = [];
  for (let at = 0; at + KEY_BYTES <= blob.length; at += KEY_BYTES)
    keys.push(Buffer.from(blob.subarray(at, at + KEY_BYTES)));
  return keys;
}

/** Weaker copies with shorter paths as JSON: [[trust, hops, path keys as one hex string], ...]. */
function shorterText(marks: readonly CopyMark[]): string | null {
  if (marks.length === 0) return null;
  return JSON.stringify(
    marks.map((m) =>
      m.path === undefined
        ? [m.trust, m.hops]
        : [m.trust, m.hops, Buffer.concat(m.path as Buffer[]).toString("hex")],
    ),
  );
}

function parseShorter(text: unknown): CopyMark[] {
  if (typeof text !== "string") return [];
  try {
    const pairs = JSON.parse(text) as unknown;
    if (!Array.isArray(pairs)) return [];
    return pairs
      .filter((p): p is [number, number, string?] => Array.isArray(p) && (p.length === 2 || p.length === 3))
      .map(([trust, hops, path]) => {
        const mark = { trust: Number(trust), hops: Number(hops) };
        if (typeof path !== "string") return mark;
        const keys = splitPath(Buffer.from(path, "hex"));
        return keys.length === mark.hops ? { ...mark, path: keys } : mark;
      });
  } catch {
    return [];
  }
}

function toRevocation(row: Row): StoredRevocation {
  return {
    origin: (row.origin as Buffer).toString("hex"),
    time: row.time as number,
    reason: row.reason as string,
    expiresAt: row.expires_at as number,
  };
}

function toBan(row: Row): BanRecord {
  return {
    ip: row.ip as string,
    score: row.score as number,
    origin: row.origin as string,
    hops: row.hops as number,
    decidedAt: row.decided_at as number,
    writtenAt: (row.written_at as number | null) ?? null,
    withheld: row.withheld === 1,
    heldBy: row.held_by instanceof Buffer ? row.held_by.toString("hex") : null,
  };
}

/** True when the stored bytes still hash to their id: what a lookup by id may rely on. */
export function bytesMatchId(report: StoredReport): boolean {
  return sha256(report.signed.bytes).equals(report.signed.id);
}
