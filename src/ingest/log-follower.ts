/**
 * Follows a growing log file (like `tail -F`) and delivers complete lines, at least once.
 *
 * - New lines are noticed at once through fs.watch on the file's folder (which also sees the file
 *   being renamed and re-created); a slow safety poll catches events fs.watch misses.
 * - Only complete lines (ending in \n) are delivered; a partial line waits for its end.
 * - logrotate by rename: the new file at the same path is read from offset 0, and the old one is
 *   still followed while a process holds it open for writing (where /proc tells), or else until
 *   the new file has received lines and the old one has then been quiet for a grace period: a writer that was never told to reopen its log (older distributions'
 *   postrotate did nothing) keeps writing to the old file for as long as it runs, and every line
 *   it writes there is delivered. Once left, the old file's final unterminated line is delivered;
 *   the old file is still watched, and if it grows after that, its lines are delivered and the
 *   growth is reported (onError: the writer does not reopen its log). A rotated file is closed
 *   when it is deleted or when more than MAX_ROTATED_FILES are followed. By copytruncate: when the file
 *   shrinks below our offset it is read again from 0 (lines written between logrotate's copy and
 *   its truncate are lost: that is copytruncate's own gap).
 * - The position (device, inode, offset, plus a fingerprint of the file's first bytes against
 *   inode reuse) is saved atomically to a small JSON file after each batch, and only after
 *   `onLines` resolved: a rejected batch is delivered again on the next event or poll, a restart
 *   continues where it stopped and never delivers old lines again. If the file was rotated while
 *   we were stopped, the rest of the old file is read from its rotated name (same inode) first.
 * - First start without a position file: starts at the end (old history is not delivered).
 * - Memory is bounded: reads go by chunks, and a line longer than 64 KiB is dropped (onError).
 */
import { createHash } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { type FileHandle, mkdir, open, readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { openForWriting } from "./open-writers.js";
import { FINGERPRINT_BYTES, loadPosition, type SavedPosition, savePosition } from "./position-file.js";

/** A line longer than this (bytes, without its \n) is dropped rather than buffered. */
export const MAX_LINE_BYTES = 64 * 1024;
/** Bytes read per step; one batch of lines comes from at most one chunk. */
const CHUNK_BYTES = 256 * 1024;
/** Rotated files followed at once; the oldest is read to its end and closed beyond this. */
export const MAX_ROTATED_FILES = 4;
const NEWLINE = 0x0a;

export interface LogFollowerOptions {
  /** The log file to follow. */
  readonly path: string;
  /** Small JSON file where the position is kept (its folder is created if needed). */
  readonly positionFile: string;
  /** Receives each batch of complete lines (without \n). The position is saved once it resolves. */
  readonly onLines: (lines: string[]) => Promise<void> | void;
  /** Problems that do not stop following: I/O errors, dropped long lines, onLines rejections. */
  readonly onError?: (err: unknown) => void;
  /** Safety poll, in ms (default 1000). A rejected batch is retried by the poll or an event 1 s later. */
  readonly pollIntervalMs?: number;
  /** Use fs.watch (default true). Off: the poll alone (e.g. on NFS, where inotify sees nothing). */
  readonly watch?: boolean;
  /**
   * How long a file rotated away must be quiet, once the new file has received lines, before it is
   * left, in ms (default 30000).
   */
  readonly rotateGraceMs?: number;
  /** Clock in ms since the epoch (default Date.now); tests pass a fake one. */
  readonly now?: () => number;
}

interface RotatedFile {
  readonly file: OpenFile;
  /** The name it had when it was rotated away, for messages. */
  readonly name: string;
  /** When it last grew (or was rotated away, or was last found open for writing). */
  lastGrowth: number;
  /** Left: the new file received lines and this one was quiet for the grace period. */
  left: boolean;
  /** Its growth after it was left was already reported. */
  warned: boolean;
}

interface OpenFile {
  readonly fh: FileHandle;
  readonly dev: bigint;
  readonly ino: bigint;
  /** Byte offset just after the last line delivered (or dropped). */
  offset: number;
  skipping: boolean;
  fp: string;
  fpLen: number;
}

type Kick = "event" | "poll";

export class LogFollower {
  private readonly path: string;
  private readonly dir: string;
  private readonly base: string;
  private readonly positionFile: string;
  private readonly onLines: (lines: string[]) => Promise<void> | void;
  private readonly onErrorCb: ((err: unknown) => void) | undefined;
  private readonly pollMs: number;
  private readonly useWatch: boolean;
  private readonly graceMs: number;
  private readonly now: () => number;

  private file: OpenFile | null = null;
  /** Files rotated away, still read until their grace period ends (not in the position file). */
  private rotated: RotatedFile[] = [];
  /** First start found a file it could not open yet: when it opens, start at its end, not 0. */
  private seekEndOnOpen = false;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private stopped = false;
  private busy = false;
  private dirty = false;
  private current: Promise<void> = Promise.resolve();
  /** After a rejected batch, events are ignored until then (the poll retries). */
  private holdUntil = 0;
  private lastError = "";

  constructor(options: LogFollowerOptions) {
    this.path = options.path;
    this.dir = dirname(options.path);
    this.base = basename(options.path);
    this.positionFile = options.positionFile;
    this.onLines = options.onLines;
    this.onErrorCb = options.onError;
    this.pollMs = options.pollIntervalMs ?? 1000;
    this.useWatch = options.watch ?? true;
    this.graceMs = options.rotateGraceMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** Finds the position (saved, or the end of the file), then follows. Catch-up runs in the background. */
  async start(): Promise<void> {
    if (this.started) throw new Error("LogFollower already started");
    this.started = true;
    try {
      await mkdir(dirname(this.positionFile), { recursive: true });
      this.ensureWatcher();
      await this.initialPosition();
      if (this.stopped) return;
      if (this.file) await this.savePosition(this.file);
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.timer = setInterval(() => this.kick("poll"), this.pollMs);
    this.timer.unref();
    this.kick("poll");
  }

  /** Stops watching, waits for a batch in flight (its position is saved), closes the file. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
    await this.current;
    const files = [this.file, ...this.rotated.map((r) => r.file)];
    this.file = null;
    this.rotated = [];
    for (const f of files) await f?.fh.close().catch(() => undefined);
  }

  // ---- scheduling -------------------------------------------------------------------------------

  private kick(why: Kick): void {
    if (this.stopped) return;
    if (why === "event" && this.now() < this.holdUntil) return;
    if (why === "poll") this.ensureWatcher();
    if (this.busy) {
      this.dirty = true;
      return;
    }
    this.busy = true;
    this.dirty = false;
    this.current = this.check()
      .catch((err: unknown) => this.report(err))
      .finally(() => {
        this.busy = false;
        if (this.dirty && !this.stopped) this.kick("event");
      });
  }

  private ensureWatcher(): void {
    if (this.watcher || this.stopped || !this.useWatch) return;
    try {
      const w = watch(this.dir, { persistent: true }, (_event, name) => {
        try {
          // Our file, its rotated names (still being drained), or unknown (null): look.
          if (name === null || String(name).startsWith(this.base)) this.kick("event");
        } catch (err) {
          this.report(err);
        }
      });
      w.on("error", (err) => {
        // e.g. the folder was removed: drop the watcher, the poll sets up a new one.
        this.report(err);
        try {
          w.close();
        } catch {
          // already closed
        }
        if (this.watcher === w) this.watcher = null;
      });
      this.watcher = w;
    } catch (err) {
      // Folder missing for now: the poll retries. Report once per distinct problem.
      this.report(err, true);
    }
  }

  private report(err: unknown, once = false): void {
    if (once) {
      const key = err instanceof Error ? err.message : String(err);
      if (key === this.lastError) return;
      this.lastError = key;
    }
    try {
      this.onErrorCb?.(err);
    } catch {
      // an error handler that throws must not break following
    }
  }

  // ---- position at start ------------------------------------------------------------------------

  private async initialPosition(): Promise<void> {
    const saved = await this.loadPosition();
    const st = await statOrNull(this.path);
    if (saved === null) {
      // First start: begin at the end, after the last complete line.
      if (st) {
        const f = await this.openFile(this.path);
        if (f) await this.seekToEnd(f);
        else this.seekEndOnOpen = true;
        this.file = f;
      }
      return;
    }
    if (st && String(st.dev) === saved.dev && String(st.ino) === saved.ino) {
      const f = await this.openFile(this.path);
      if (f) {
        this.resume(f, saved, await this.fingerprintMatches(f, saved));
        this.file = f;
        return;
      }
    }
    // The file was rotated while we were stopped: finish its rotated copy first, if still there.
    const old = await this.findRotated(saved);
    if (old) {
      const f = await this.openFile(old);
      if (f && f.dev === BigInt(saved.dev) && f.ino === BigInt(saved.ino)) {
        this.resume(f, saved, await this.fingerprintMatches(f, saved));
        this.file = f;
        return;
      }
      await f?.fh.close();
    }
    // A new file: everything in it came after our last position.
    if (st) this.file = await this.openFile(this.path);
  }

  private resume(f: OpenFile, saved: SavedPosition, sameContent: boolean): void {
    if (!sameContent) return; // inode reused by another file: read it from 0
    f.offset = saved.offset;
    f.skipping = saved.skipping;
    f.fp = saved.fp;
    f.fpLen = saved.fpLen;
  }

  private async seekToEnd(f: OpenFile): Promise<void> {
    const { size } = await f.fh.stat();
    const from = Math.max(0, size - MAX_LINE_BYTES - 1);
    const buf = await readAt(f.fh, from, size - from);
    const nl = buf.lastIndexOf(NEWLINE);
    if (nl >= 0) {
      // A line being written right now (no \n yet) is delivered once complete.
      f.offset = from + nl + 1;
    } else {
      f.offset = size;
      f.skipping = size > 0; // the tail of a line we never saw the start of
    }
  }

  private async findRotated(saved: Pick<SavedPosition, "dev" | "ino">): Promise<string | null> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return null;
    }
    for (const name of names) {
      if (name === this.base || !name.startsWith(this.base)) continue;
      const st = await statOrNull(join(this.dir, name));
      if (st && String(st.dev) === saved.dev && String(st.ino) === saved.ino) return join(this.dir, name);
    }
    return null;
  }

  // ---- following --------------------------------------------------------------------------------

  private async check(): Promise<void> {
    if (this.stopped) return;
    await this.drainRotated();
    const st = await statOrNull(this.path);
    const f = this.file;
    if (f === null) {
      if (st === null) return;
      // The file appeared (or could not be opened before): all of it is new.
      const next = await this.openFile(this.path);
      if (next === null) return;
      if (this.seekEndOnOpen) await this.seekToEnd(next);
      this.seekEndOnOpen = false;
      this.file = next;
      await this.savePosition(next);
      await this.drain(next, false);
      return;
    }
    if (st && st.dev === f.dev && st.ino === f.ino) {
      if (st.size < f.offset) {
        // copytruncate (or any truncation): start again from 0.
        f.offset = 0;
        f.skipping = false;
        f.fp = "";
        f.fpLen = 0;
        await this.savePosition(f);
      }
      await this.drain(f, false);
      return;
    }
    // Renamed away (new file not created yet, or created): keep reading the old one.
    await this.drain(f, false);
    if (st === null || this.stopped) return;
    // A new file at the path: it becomes the current one, read from 0.
    const next = await this.openFile(this.path);
    if (next === null) return;
    this.rotated.push({
      file: f,
      name: await this.nameOf(f),
      lastGrowth: this.now(),
      left: false,
      warned: false,
    });
    this.file = next;
    await this.savePosition(next);
    await this.drainRotated();
    await this.drain(next, false);
  }

  /**
   * Reads the files rotated away. One is left (its unterminated last line delivered) once the new
   * file has received lines and it has been quiet for the grace period; closed once deleted or when
   * too many are followed.
   */
  private async drainRotated(): Promise<void> {
    const newFileHasLines = this.file !== null && (await this.file.fh.stat()).size > 0;
    while (this.rotated.length > MAX_ROTATED_FILES) await this.closeRotated(this.rotated[0]!);
    for (const r of [...this.rotated]) {
      if (this.stopped) return;
      const before = r.file.offset;
      await this.drain(r.file, false, false);
      const now = this.now();
      if (r.file.offset !== before) {
        r.lastGrowth = now;
        if (r.left && !r.warned) {
          r.warned = true;
          this.report(
            new Error(
              `${r.name}: rotated log still written after ${this.path} received lines; its lines are ` +
                "read, but the writer does not reopen its log after rotation (check logrotate's postrotate)",
            ),
          );
        }
      }
      if ((await r.file.fh.stat()).nlink === 0) {
        await this.closeRotated(r);
        continue;
      }
      if (!r.left && newFileHasLines && now - r.lastGrowth >= this.graceMs) {
        // A writer still holding it open may write there again: keep following while it does.
        // Asked again only after another grace period, so /proc is not scanned at every poll.
        if ((await openForWriting(r.file.dev, r.file.ino)) === "yes") {
          r.lastGrowth = now;
          continue;
        }
        r.left = true;
        await this.drain(r.file, true, false);
      }
    }
  }

  /** Reads a rotated file to its end, its unterminated last line included, and closes it. */
  private async closeRotated(r: RotatedFile): Promise<void> {
    await this.drain(r.file, true, false);
    this.rotated = this.rotated.filter((x) => x !== r);
    await r.file.fh.close().catch(() => undefined);
  }

  /** The current name of an open file in the log's folder (found by inode), or the log's path. */
  private async nameOf(f: OpenFile): Promise<string> {
    const found = await this.findRotated({ dev: String(f.dev), ino: String(f.ino) });
    return found ?? this.path;
  }

  /**
   * Delivers every complete line from f.offset to the end of the file, one chunk per batch.
   * `final`: the file was rotated away and will not grow, so an unterminated last line counts too.
   * `persist`: save the position after each batch (only the current file is in the position file).
   */
  private async drain(f: OpenFile, final: boolean, persist = true): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const buf = await readAt(f.fh, f.offset, CHUNK_BYTES);
      if (buf.length === 0) return;
      const atEof = buf.length < CHUNK_BYTES;
      const completeEnd = buf.lastIndexOf(NEWLINE) + 1; // 0 when no \n
      const finalTail = final && atEof && completeEnd < buf.length;
      if (completeEnd === 0 && !finalTail) {
        if (buf.length <= MAX_LINE_BYTES) return; // a partial line: wait for the rest
        // No end in sight: drop what we have and skip to the next \n.
        if (!f.skipping)
          this.report(new Error(`${this.path}: line longer than ${MAX_LINE_BYTES} bytes dropped`));
        f.offset += buf.length;
        f.skipping = true;
        if (persist) await this.savePosition(f);
        continue;
      }
      const pieces: Buffer[] = [];
      for (let start = 0; start < completeEnd; ) {
        const nl = buf.indexOf(NEWLINE, start);
        pieces.push(buf.subarray(start, nl));
        start = nl + 1;
      }
      if (finalTail) pieces.push(buf.subarray(completeEnd));
      const lines: string[] = [];
      for (const [i, piece] of pieces.entries()) {
        if (i === 0 && f.skipping) continue; // the end of a dropped over-long line
        if (piece.length > MAX_LINE_BYTES) {
          this.report(new Error(`${this.path}: line longer than ${MAX_LINE_BYTES} bytes dropped`));
          continue;
        }
        let line = piece.toString("utf8");
        if (line.endsWith("\r")) line = line.slice(0, -1);
        if (line.length > 0) lines.push(line);
      }
      if (lines.length > 0) {
        try {
          await this.onLines(lines);
        } catch (err) {
          // Position not advanced: the same lines come again (after a pause, from the poll).
          this.holdUntil = this.now() + Math.min(this.pollMs, 1000);
          throw err;
        }
      }
      f.offset += finalTail ? buf.length : completeEnd;
      f.skipping = false;
      if (persist) await this.savePosition(f);
      if (atEof) return;
    }
  }

  // ---- files ------------------------------------------------------------------------------------

  private async openFile(path: string): Promise<OpenFile | null> {
    let fh: FileHandle;
    try {
      fh = await open(path, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.report(err, true);
      return null;
    }
    const st = await fh.stat({ bigint: true });
    return { fh, dev: st.dev, ino: st.ino, offset: 0, skipping: false, fp: "", fpLen: 0 };
  }

  private async fingerprintMatches(f: OpenFile, saved: SavedPosition): Promise<boolean> {
    if (saved.fpLen === 0) return true;
    const head = await readAt(f.fh, 0, saved.fpLen);
    return head.length === saved.fpLen && sha256(head) === saved.fp;
  }

  private async loadPosition(): Promise<SavedPosition | null> {
    const loaded = await loadPosition(this.positionFile);
    if (loaded.kind === "position") return loaded.position;
    if (loaded.kind === "unusable") {
      const why = loaded.error instanceof Error ? loaded.error.message : String(loaded.error);
      this.report(new Error(`${why}; starting at the end of ${this.path}`));
    }
    return null;
  }

  private async savePosition(f: OpenFile): Promise<void> {
    // Fingerprint the first bytes once they exist (up to FINGERPRINT_BYTES).
    const want = Math.min(FINGERPRINT_BYTES, f.offset);
    if (want > f.fpLen) {
      const head = await readAt(f.fh, 0, want);
      f.fp = sha256(head);
      f.fpLen = head.length;
    }
    const pos: SavedPosition = {
      version: 1,
      dev: String(f.dev),
      ino: String(f.ino),
      offset: f.offset,
      skipping: f.skipping,
      fp: f.fp,
      fpLen: f.fpLen,
    };
    await savePosition(this.positionFile, pos);
  }
}

async function statOrNull(path: string) {
  try {
    return await stat(path, { bigint: true });
  } catch {
    return null;
  }
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
