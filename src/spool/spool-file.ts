/**
 * The spool's file format and names: pure rules shared by the writer (`f2bp2p report`, lean path)
 * and the node's intake. Kept free of imports beyond Node's own so `report` loads nothing heavy.
 *
 * One report per file, named `<wall ms, 15 digits>-<monotonic ns, 20 digits>-<pid>-<random>.report`:
 * names sort in arrival order (wall clock first, then the boot-wide monotonic clock, which orders
 * writers within the same millisecond) and never collide (pid + random). The content is one JSON
 * line: {"v":1,"ip":"203.0.113.7","jail":"sshd","time":1764500000000}.
 */

/** Suffix of a finished spool file; anything else in the folder is not a report. */
export const SPOOL_SUFFIX = ".report";
/** Prefix of a file still being written (renamed to its final name once complete and synced). */
export const SPOOL_TMP_PREFIX = ".tmp-";
/** Sub-folder where damaged or refused files are set aside for the administrator. */
export const SPOOL_BAD_DIR = "bad";
/** Most reports waiting in the spool; `report` refuses to add more (the node is long gone). */
export const MAX_SPOOLED_REPORTS = 50_000;
/** Largest spool file read: a real one is under 120 bytes. */
export const MAX_SPOOL_FILE_BYTES = 1024;
/** Version of the file format. */
export const SPOOL_FORMAT_VERSION = 1;

const NAME_PATTERN = /^\d{15}-\d{20}-\d{1,10}-[0-9a-f]{8}\.report$/;

/** One report as `f2bp2p report` spooled it. `time` is when it was spooled, ms since the epoch. */
export interface SpooledReport {
  readonly ip: string;
  /** fail2ban jail name, "" when none was given. */
  readonly jail: string;
  readonly time: number;
}

/**
 * A unique file name that sorts in arrival order. `wallMs`: Date.now(); `monoNs`:
 * process.hrtime.bigint(); `random`: 0 to 2^32-1, against pid reuse across PID namespaces.
 */
export function spoolFileName(wallMs: number, monoNs: bigint, pid: number, random: number): string {
  const hex = (random >>> 0).toString(16).padStart(8, "0");
  return `${String(wallMs).padStart(15, "0")}-${String(monoNs).padStart(20, "0")}-${pid}-${hex}${SPOOL_SUFFIX}`;
}

/** True for the name of a finished spool file (as spoolFileName makes them). */
export function isSpoolFileName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/** The file content for one report: one JSON line. */
export function encodeSpooled(report: SpooledReport): string {
  return `${JSON.stringify({ v: SPOOL_FORMAT_VERSION, ip: report.ip, jail: report.jail, time: report.time })}\n`;
}

/**
 * Reads one spool file's content. Only the shape is checked here (the node checks the address, the
 * jail and the time as for any local report). Returns the reason when the file is damaged.
 */
export function decodeSpooled(text: string): SpooledReport | { readonly damaged: string } {
  if (text.length > MAX_SPOOL_FILE_BYTES) return { damaged: "larger than a report" };
  if (!text.endsWith("\n")) return { damaged: "incomplete (no final newline)" };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { damaged: "not JSON" };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return { damaged: "not an object" };
  const { v, ip, jail, time } = data as Record<string, unknown>;
  if (v !== SPOOL_FORMAT_VERSION) return { damaged: `unknown format version ${JSON.stringify(v)}` };
  if (typeof ip !== "string" || ip.length === 0 || ip.length > 64) return { damaged: "no address" };
  if (typeof jail !== "string" || jail.length > 64) return { damaged: "bad jail field" };
  if (typeof time !== "number" || !Number.isSafeInteger(time) || time <= 0) return { damaged: "bad time" };
  return { ip, jail, time };
}
