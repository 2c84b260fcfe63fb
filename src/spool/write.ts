/**
 * Writing one report into the spool: what `f2bp2p report` does when the node gives no answer.
 * Lean on purpose (Node's fs only): it runs in fail2ban's action on every ban.
 *
 * Durability: the report is written to a temporary name, fsync'ed, renamed to its final name and
 * the folder fsync'ed, so the node never sees half a file and a power loss keeps what `report`
 * called queued. Permissions: fail2ban runs `report` as root while the node may run as its own
 * user, so a root writer hands each file to the owner and group of the spool folder, mode 0640,
 * and each folder it had to create to its parent's owner (util/owner.ts); the spool folder is
 * 02770 (setgid: files keep the folder's group).
 */
import fs from "node:fs";
import path from "node:path";
import { mkdirOwnedLikeParent } from "../util/owner.js";
import {
  encodeSpooled,
  MAX_SPOOLED_REPORTS,
  SPOOL_SUFFIX,
  SPOOL_TMP_PREFIX,
  type SpooledReport,
  spoolFileName,
} from "./spool-file.js";

/** Mode of spool folders: owner and group may add and remove files; setgid keeps the group. */
export const SPOOL_DIR_MODE = 0o2770;
/** Mode of spool files: the node's user and group can read them. */
export const SPOOL_FILE_MODE = 0o640;

export type SpoolWrite =
  | { readonly ok: true; readonly file: string; readonly warning?: string }
  | { readonly ok: false; readonly reason: string };

/**
 * Stores `report` in the folder `dir` (created if missing). Never throws; says why it failed.
 * `maxReports`: how many may wait at most (MAX_SPOOLED_REPORTS; smaller only in tests).
 */
export function spoolReport(
  dir: string,
  report: SpooledReport,
  maxReports = MAX_SPOOLED_REPORTS,
): SpoolWrite {
  const folder = path.resolve(dir);
  let owner: fs.Stats;
  try {
    owner = prepareFolder(folder);
  } catch (err: unknown) {
    return { ok: false, reason: `cannot use spool folder ${folder}: ${describe(err)}` };
  }
  let waiting: number;
  try {
    waiting = countReports(folder);
  } catch (err: unknown) {
    return { ok: false, reason: `cannot read spool folder ${folder}: ${describe(err)}` };
  }
  if (waiting >= maxReports)
    return {
      ok: false,
      reason: `spool folder ${folder} is full (${waiting} reports waiting, the limit is ${maxReports}): start the node ('f2bp2p run') so it takes them in`,
    };
  const name = spoolFileName(Date.now(), process.hrtime.bigint(), process.pid, randomUint32());
  const file = path.join(folder, name);
  const tmp = path.join(folder, `${SPOOL_TMP_PREFIX}${name}`);
  let warning: string | undefined;
  try {
    const fd = fs.openSync(tmp, "wx", SPOOL_FILE_MODE);
    try {
      fs.fchmodSync(fd, SPOOL_FILE_MODE); // the umask (fail2ban's is 077) would take the group's read
      warning = handOver(() => fs.fchownSync(fd, owner.uid, owner.gid), owner, tmp);
      fs.writeSync(fd, encodeSpooled(report));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err: unknown) {
    fs.rmSync(tmp, { force: true });
    return { ok: false, reason: `cannot write to spool folder ${folder}: ${describe(err)}` };
  }
  try {
    syncFolder(folder);
  } catch (err: unknown) {
    // The file is complete and in place; only its survival of a power loss is in doubt.
    warning = `spool folder ${folder} not synced: ${describe(err)}`;
  }
  return warning === undefined ? { ok: true, file } : { ok: true, file, warning };
}

/** Finished reports in the folder (names with the spool suffix). */
function countReports(folder: string): number {
  let count = 0;
  for (const name of fs.readdirSync(folder)) if (name.endsWith(SPOOL_SUFFIX)) count++;
  return count;
}

/**
 * The spool folder's stats; creates it (and missing parents) when absent, each created folder owned
 * like its parent when root creates it (util/owner.ts).
 */
function prepareFolder(folder: string): fs.Stats {
  try {
    const stats = fs.statSync(folder);
    if (!stats.isDirectory()) throw new Error("not a folder");
    return stats;
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  // Missing parents (the state dir of a node that never ran) get the state dir's mode, 0750 as in
  // state/open.ts (not imported: it loads the store); only the spool itself is group-writable.
  mkdirOwnedLikeParent(path.dirname(folder), 0o750);
  mkdirOwnedLikeParent(folder, SPOOL_DIR_MODE);
  return fs.statSync(folder);
}

/** As root, gives the file to the spool folder's owner; a failure is a warning (group read still works). */
function handOver(chown: () => void, owner: fs.Stats, file: string): string | undefined {
  if (!isRoot() || (owner.uid === 0 && owner.gid === 0)) return undefined;
  try {
    chown();
    return undefined;
  } catch (err: unknown) {
    return `cannot hand ${file} to uid ${owner.uid} gid ${owner.gid}: ${describe(err)}`;
  }
}

function syncFolder(folder: string): void {
  const fd = fs.openSync(folder, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function randomUint32(): number {
  return Math.floor(Math.random() * 0x1_0000_0000);
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "EACCES" || e?.code === "EPERM") return `permission denied (${e.code})`;
  if (e?.code === "ENOSPC") return "no space left on the device";
  if (e?.code === "EROFS") return "read-only file system";
  return e instanceof Error ? e.message : String(err);
}
