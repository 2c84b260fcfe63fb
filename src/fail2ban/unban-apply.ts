/**
 * `f2bp2p unban-apply`: has fail2ban lift the bans the node lifted. The node (an unprivileged user)
 * writes `UNBAN <ip> reason=...` to its bans log; this, run as root (by the f2bp2p-unban systemd
 * units, or by hand), reads the lines added since its last run and runs
 * `fail2ban-client set <jail> unbanip <ip>` for each. Its read position (device, inode, offset and
 * a fingerprint of the file's start) is kept in a small file replaced atomically, and saved only
 * up to what was applied: a run that stops (fail2ban down, a crash) neither misses nor repeats a line.
 * A bans log rotated since the last run is finished first from `<bans log>.1` (logrotate's name).
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  FINGERPRINT_BYTES,
  loadPosition,
  type SavedPosition,
  savePosition,
} from "../ingest/position-file.js";
import { describeIoError } from "../node/bans-log.js";
import { parseBansLogLine, UnbanCollector } from "./unban-lines.js";

/** Bytes read per read(2). */
const CHUNK_BYTES = 1024 * 1024;
/** A longer line is no bans log line (those are under 120 bytes): it is skipped. */
const MAX_LINE_BYTES = 1024;

export type UnbanOutcome = "unbanned" | "not-banned";

export interface UnbanApplyOptions {
  readonly bansLog: string;
  readonly positionFile: string;
  /** Asks fail2ban to unban one address; rejects with the reason when it could not. */
  readonly unban: (ip: string) => Promise<UnbanOutcome>;
}

export interface UnbanApplyResult {
  readonly applied: readonly {
    readonly ip: string;
    readonly reason: string;
    readonly outcome: UnbanOutcome;
  }[];
  /** The unban that failed (the run stopped there; the next run starts with it). */
  readonly failed?: { readonly ip: string; readonly reason: string; readonly error: string };
  /** Set when the saved position did not match the bans log (first run, lost file): read from its start. */
  readonly fromStart: boolean;
  readonly bytesRead: number;
}

/** A file this run reads: which one (for the position) and from where. */
interface Segment {
  readonly fd: number;
  readonly dev: string;
  readonly ino: string;
  readonly size: number;
  readonly from: number;
  /** Where reading stopped: after the last whole line. */
  end: number;
}

/** Throws an Error with the file and the cause when the bans log cannot be read. */
export async function applyUnbans(options: UnbanApplyOptions): Promise<UnbanApplyResult> {
  const current = openForReading(options.bansLog);
  if (current === undefined) return { applied: [], fromStart: true, bytesRead: 0 };
  const opened = [current.fd];
  try {
    const saved = await loadPosition(options.positionFile);
    if (saved.kind === "unusable") throw saved.error;
    const segments: Segment[] = [];
    let fromStart = false;
    const position = saved.kind === "position" ? saved.position : undefined;
    if (position !== undefined && sameFile(current, position)) {
      segments.push(segment(current, position.offset <= current.size ? position.offset : 0));
    } else {
      const rotated = position === undefined ? undefined : openForReading(`${options.bansLog}.1`);
      if (rotated !== undefined) opened.push(rotated.fd);
      if (rotated !== undefined && position !== undefined && sameFile(rotated, position))
        segments.push(segment(rotated, Math.min(position.offset, rotated.size)));
      else fromStart = true;
      segments.push(segment(current, 0));
    }
    const collector = new UnbanCollector<{ segment: Segment; lineStart: number }>();
    let bytesRead = 0;
    for (const s of segments) {
      bytesRead += readLines(s, (line, lineStart) => {
        const entry = parseBansLogLine(line);
        if (entry !== undefined) collector.add(entry, { segment: s, lineStart });
      });
    }
    fs.mkdirSync(path.dirname(options.positionFile), { recursive: true, mode: 0o700 });
    const applied: { ip: string; reason: string; outcome: UnbanOutcome }[] = [];
    for (const u of collector.result()) {
      try {
        applied.push({ ip: u.ip, reason: u.reason, outcome: await options.unban(u.ip) });
      } catch (err: unknown) {
        await savePosition(options.positionFile, positionOf(u.where.segment, u.where.lineStart));
        const error = err instanceof Error ? err.message : String(err);
        return { applied, failed: { ip: u.ip, reason: u.reason, error }, fromStart, bytesRead };
      }
    }
    const last = segments[segments.length - 1]!;
    await savePosition(options.positionFile, positionOf(last, last.end));
    return { applied, fromStart, bytesRead };
  } finally {
    for (const fd of opened) fs.closeSync(fd);
  }
}

function openForReading(file: string): { fd: number; dev: string; ino: string; size: number } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`bans log ${file}: ${describeIoError(err)}`);
  }
  const st = fs.fstatSync(fd, { bigint: true });
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new Error(`bans log ${file}: is not a regular file`);
  }
  return { fd, dev: String(st.dev), ino: String(st.ino), size: Number(st.size) };
}

function segment(file: { fd: number; dev: string; ino: string; size: number }, from: number): Segment {
  return { ...file, from, end: from };
}

/** sha256 (hex) of the first `length` bytes of the file. */
function fingerprint(fd: number, length: number): string {
  const buffer = Buffer.alloc(length);
  const got = length === 0 ? 0 : fs.readSync(fd, buffer, 0, length, 0);
  return createHash("sha256").update(buffer.subarray(0, got)).digest("hex");
}

/** The saved position names this file: same device and inode, and the same first bytes. */
function sameFile(file: { fd: number; dev: string; ino: string; size: number }, p: SavedPosition): boolean {
  return (
    p.dev === file.dev && p.ino === file.ino && file.size >= p.fpLen && fingerprint(file.fd, p.fpLen) === p.fp
  );
}

function positionOf(s: Segment, offset: number): SavedPosition {
  const fpLen = Math.min(FINGERPRINT_BYTES, s.size);
  return { version: 1, dev: s.dev, ino: s.ino, offset, skipping: false, fp: fingerprint(s.fd, fpLen), fpLen };
}

/** Calls `onLine` for every whole line from s.from to the file's size; sets s.end; returns bytes read. */
function readLines(s: Segment, onLine: (line: string, lineStart: number) => void): number {
  const buffer = Buffer.alloc(CHUNK_BYTES);
  let offset = s.from;
  let lineStart = s.from;
  let partial: Buffer[] = [];
  let partialBytes = 0;
  while (offset < s.size) {
    const got = fs.readSync(s.fd, buffer, 0, Math.min(CHUNK_BYTES, s.size - offset), offset);
    if (got === 0) break;
    let start = 0;
    for (let nl = buffer.indexOf(0x0a, start); nl !== -1 && nl < got; nl = buffer.indexOf(0x0a, start)) {
      const piece = buffer.subarray(start, nl);
      if (partialBytes + piece.length <= MAX_LINE_BYTES)
        onLine(Buffer.concat([...partial, piece]).toString("latin1"), lineStart);
      partial = [];
      partialBytes = 0;
      lineStart = offset + nl + 1;
      start = nl + 1;
    }
    if (start < got && partialBytes <= MAX_LINE_BYTES) {
      partial.push(Buffer.from(buffer.subarray(start, got)));
      partialBytes += got - start;
    } else if (start < got) partialBytes += got - start;
    offset += got;
  }
  s.end = lineStart;
  return offset - s.from;
}
