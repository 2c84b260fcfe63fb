import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { KEY_BYTES } from "../protocol/constants.js";
import { decodeReport } from "../protocol/report.js";
import { sha256 } from "../protocol/signing.js";
import { type CopyMark, VIA_SELF } from "../trust/rules.js";
import { createOwnedLikeParent } from "../util/owner.js";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.js";
import {
  type BanRecord,
  type BestCopy,
  type ExpiredBatch,
  type PageMark,
  type StateStore,
  type StoreCounts,
  StoreDamagedError,
  type StoredContribution,
  type StoredReport,
  StoreWriteError,
} from "./store.js";

export const STORE_FILE = "state.db";

/**
 * Page cache of the store's connection: what the node's memory holds of the database, whatever the
 * number of reports (SQLite's `cache_size`, in KiB when negative).
 */
const CACHE_KIB = 8192;
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
   * Opens (or creates) the store. Throws StoreDamagedError when the file is not a readable, intact
   * database of a version this code knows; the file is then left untouched.
   */
  constructor(
    stateDir: string,
    options: { readonly integrityCheck?: boolean; readonly readOnly?: boolean } = {},
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
        timeout: readOnly ? 5000 : 0,
        readonly: readOnly,
      });
    } catch (err: unknown) {
      throw damaged(this.file, err);
    }
    if (readOnly) {
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
      this.#migrate();
      this.#s = prepare(this.#db);
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

  #migrate(): void {
    const version = this.#db.pragma("user_version", { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new StoreDamagedError(
        this.file,
        `it was written by a newer f2bp2p (schema ${version}; this one knows up to ${SCHEMA_VERSION})`,
      );
    }
    for (let v = version; v < SCHEMA_VERSION; v++) {
      this.#db.transaction(() => {
        this.#db.exec(MIGRATIONS[v]!);
        this.#db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  transaction<T>(work: () => T, options: { readonly durable?: boolean } = {}): T {
    const nested = this.#db.inTransaction;
    const result = this.#writing(() => this.#db.transaction(work)());
    if (options.durable === true && !nested) this.#syncWal();
    return result;
  }

  get inTransaction(): boolean {
    return this.#db.inTransaction;
  }

  begin(): void {
    this.#writing(() => this.#db.exec("BEGIN"));
  }

  commit(options: { readonly durable?: boolean } = {}): void {
    this.#writing(() => this.#db.exec("COMMIT"));
    if (options.durable === true) this.#syncWal();
  }

  /** Rolls back the open transaction, if SQLite has not already done so after an error. */
  rollback(): void {
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
      );
      if (broughtBy !== null) this.#s.countFriend.run({ friend: broughtBy, delta: 1 });
    });
  }

  updateBestCopy(id: Buffer, c: BestCopy): void {
    this.#writing(() =>
      this.#s.updateBest.run(
        c.trust,
        Buffer.concat(c.path as Buffer[]),
        shorterText(c.shorter),
        c.acceptedAt,
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

  ban(ip: string): BanRecord | undefined {
    const row = this.#s.ban.get(ip) as Row | undefined;
    return row === undefined ? undefined : toBan(row);
  }

  decideBan(b: BanRecord): void {
    this.#writing(() =>
      this.#s.decideBan.run(b.ip, b.score, b.origin, b.hops, b.decidedAt, b.writtenAt, b.withheld ? 1 : 0),
    );
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
    return counts;
  }

  acceptedSince(since: number, limit: number, after?: PageMark): StoredReport[] {
    const rows = (
      after === undefined
        ? this.#s.acceptedSince.all(since, limit)
        : this.#s.acceptedAfter.all(since, after.acceptedAt, after.id, limit)
    ) as Row[];
    return rows.map((row) => this.#toReport(row.id as Buffer, row));
  }

  expire(now: number, limit: number): ExpiredBatch {
    return this.transaction(() => {
      const reports = this.#s.expireReports.all(now, limit) as Row[];
      const broughtBy: string[] = [];
      for (const row of reports) {
        if (row.brought_by === null) continue;
        broughtBy.push(viaText(row.brought_by));
        this.#s.countFriend.run({ friend: row.brought_by, delta: -1 });
      }
      const contributionIps = this.#s.expireContributions.all(now, limit) as Row[];
      const unbanned: string[] = [];
      for (const ip of new Set(contributionIps.map((r) => r.ip as string))) {
        if (this.#s.anyContribution.get(ip) !== undefined) continue;
        if (this.#s.dropBan.run(ip).changes > 0) unbanned.push(ip);
      }
      const done = reports.length < limit && contributionIps.length < limit;
      return { broughtBy, reports: reports.length, unbanned, done };
    });
  }

  setAside(id: Buffer, reason: string, now: number): void {
    this.transaction(() => {
      this.#s.setAside.run(reason, now, id);
      const dropped = this.#s.dropReport.get(id) as Row | undefined;
      if (dropped !== undefined && dropped.brought_by !== null)
        this.#s.countFriend.run({ friend: dropped.brought_by, delta: -1 });
    });
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

  close(): void {
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
    const decoded = decodeReport(bytes, false);
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
    b.score, b.origin AS ban_origin, b.hops AS ban_hops, b.decided_at, b.written_at, b.withheld
  FROM contributions c LEFT JOIN bans b ON b.ip = c.ip`;

function prepare(db: Database.Database) {
  const columns = "bytes, signature, trust, path, shorter, brought_by, accepted_at, expires_at";
  return {
    report: db.prepare(`SELECT ${columns} FROM reports WHERE id = ?`),
    insertReport: db.prepare(`INSERT INTO reports (id, ${columns}) VALUES (?,?,?,?,?,?,?,?,?)`),
    updateBest: db.prepare(
      "UPDATE reports SET trust = ?, path = ?, shorter = ?, accepted_at = ? WHERE id = ?",
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
    anyContribution: db.prepare("SELECT 1 FROM contributions WHERE ip = ? LIMIT 1"),
    ban: db.prepare("SELECT * FROM bans WHERE ip = ?"),
    decideBan: db.prepare(
      `INSERT OR REPLACE INTO bans (ip, score, origin, hops, decided_at, written_at, withheld)
       VALUES (?,?,?,?,?,?,?)`,
    ),
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
    acceptedSince: db.prepare(
      `SELECT id, ${columns} FROM reports WHERE accepted_at >= ? ORDER BY accepted_at, id LIMIT ?`,
    ),
    acceptedAfter: db.prepare(
      `SELECT id, ${columns} FROM reports WHERE accepted_at >= ? AND (accepted_at, id) > (?, ?)
       ORDER BY accepted_at, id LIMIT ?`,
    ),
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

function shorterText(marks: readonly CopyMark[]): string | null {
  return marks.length === 0 ? null : JSON.stringify(marks.map((m) => [m.trust, m.hops]));
}

function parseShorter(text: unknown): CopyMark[] {
  if (typeof text !== "string") return [];
  try {
    const pairs = JSON.parse(text) as unknown;
    if (!Array.isArray(pairs)) return [];
    return pairs
      .filter((p): p is [number, number] => Array.isArray(p) && p.length === 2)
      .map(([trust, hops]) => ({ trust: Number(trust), hops: Number(hops) }));
  } catch {
    return [];
  }
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
  };
}

/** True when the stored bytes still hash to their id: what a lookup by id may rely on. */
export function bytesMatchId(report: StoredReport): boolean {
  return sha256(report.signed.bytes).equals(report.signed.id);
}
