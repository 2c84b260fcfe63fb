/**
 * The node's side of the spool: takes in what `f2bp2p report` left there while the node gave no
 * answer, at start and whenever something lands in the folder (fs.watch, with a periodic scan as a
 * safety net for events the watch misses), oldest first, one file at a time.
 *
 * Exactly once: a file is removed only after `apply` returned, i.e. after the node committed the
 * report; if the node dies in between, the file is applied again at the next start and the node
 * answers `duplicate` (it remembers its own reports), so no second wave goes out. Damaged or
 * refused files are moved to `bad/` (or, when that fails, skipped until restart), never retried in
 * a loop; nothing in the folder can crash the node.
 */
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "../util/logger.js";
import {
  decodeSpooled,
  isSpoolFileName,
  MAX_SPOOL_FILE_BYTES,
  SPOOL_BAD_DIR,
  SPOOL_TMP_PREFIX,
  type SpooledReport,
} from "./spool-file.js";
import { SPOOL_DIR_MODE } from "./write.js";

/** How often the folder is scanned even without a watch event. */
export const SPOOL_RESCAN_MS = 10_000;
/** A temporary file this old was left by a writer that died: removed. */
export const STALE_TMP_MS = 3_600_000;
/** Files taken in between two turns of the event loop, so a full spool does not stall the node. */
const BATCH = 64;
/** Most files kept in bad/; beyond it a bad file is deleted (and logged) instead. */
export const MAX_BAD_FILES = 1000;

/** What the node did with one spooled report. */
export type IntakeVerdict =
  /** Committed (accepted or duplicate) or deliberately dropped (e.g. never-ban, expired): remove the file. */
  | { readonly kind: "done"; readonly status: string }
  /** The report itself is wrong (bad address, jail, time in the future): set the file aside. */
  | { readonly kind: "refused"; readonly reason: string }
  /** The node could not commit it now (store failing): keep it, stop this pass, try at the next. */
  | { readonly kind: "later"; readonly reason: string };

export interface SpoolIntakeOptions {
  /** The spool folder (absolute). */
  readonly dir: string;
  /** Hands one report to the node; must commit it before returning. May throw (file kept, logged). */
  readonly apply: (report: SpooledReport) => IntakeVerdict;
  readonly log: Logger;
  readonly now: () => number;
  readonly rescanMs?: number;
}

export interface IntakeStats {
  taken: number;
  setAside: number;
}

export class SpoolIntake {
  readonly #o: SpoolIntakeOptions;
  readonly #bad: string;
  /** Files that could neither be taken nor moved aside: skipped until the node restarts. */
  readonly #stuck = new Set<string>();
  readonly stats: IntakeStats = { taken: 0, setAside: 0 };
  #watcher: fs.FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  /** Set while the node cannot commit spooled reports (store failing): logged once, not per pass. */
  #waitingSince: number | undefined;

  constructor(options: SpoolIntakeOptions) {
    this.#o = options;
    this.#bad = path.join(options.dir, SPOOL_BAD_DIR);
  }

  /** Creates the folder if needed, starts watching, and resolves once what was there is taken in. */
  async start(): Promise<void> {
    this.#prepareFolder();
    this.#watch();
    this.#timer = setInterval(() => this.#kick(), this.#o.rescanMs ?? SPOOL_RESCAN_MS);
    this.#timer.unref();
    await this.drain();
  }

  #watch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    try {
      const watcher = fs.watch(this.#o.dir, () => this.#kick());
      watcher.on("error", (err) => {
        this.#o.log.warn("spool watch failed; scanning periodically only", { error: String(err) });
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
      });
      this.#watcher = watcher;
    } catch (err: unknown) {
      this.#o.log.warn("cannot watch the spool folder; scanning periodically only", {
        dir: this.#o.dir,
        error: String(err),
      });
    }
  }

  /** Stops watching; resolves once the file being taken in (if any) is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
    await this.#draining;
  }

  /** Takes in everything in the folder now; concurrent calls share one pass (plus one more after it). */
  drain(): Promise<void> {
    if (this.#draining !== undefined) {
      this.#again = true;
      return this.#draining;
    }
    this.#draining = this.#loop().finally(() => {
      this.#draining = undefined;
    });
    return this.#draining;
  }

  /** For `f2bp2p status`: the folder, reports waiting in it, and what this run took in or set aside. */
  status(): { dir: string; waiting: number | string; takenIn: number; setAside: number } {
    let waiting: number | string;
    try {
      waiting = fs.readdirSync(this.#o.dir).filter(isSpoolFileName).length;
    } catch (err: unknown) {
      waiting = `unreadable: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
    }
    return { dir: this.#o.dir, waiting, takenIn: this.stats.taken, setAside: this.stats.setAside };
  }

  #kick(): void {
    if (!this.#stopped) void this.drain();
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      await this.#pass();
    } while (this.#again && !this.#stopped);
  }

  async #pass(): Promise<void> {
    let names: string[];
    try {
      names = fs.readdirSync(this.#o.dir);
    } catch (err: unknown) {
      this.#o.log.warn("cannot read the spool folder", { dir: this.#o.dir, error: String(err) });
      if ((err as NodeJS.ErrnoException).code === "ENOENT") this.#recreate();
      return;
    }
    const reports = names.filter((n) => isSpoolFileName(n) && !this.#stuck.has(n)).sort();
    const before = { ...this.stats };
    let done = 0;
    for (const name of reports) {
      if (this.#stopped) return;
      // Stop at a report the node cannot commit now, so the later ones do not overtake it.
      if (!this.#takeOne(name)) break;
      if (++done % BATCH === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (done > 0)
      this.#o.log.info("spool pass done", {
        taken: this.stats.taken - before.taken,
        setAside: this.stats.setAside - before.setAside,
        dir: this.#o.dir,
      });
    this.#removeStaleTmp(names);
  }

  /** Takes one file in; false when the node cannot commit it now (the pass stops there). */
  #takeOne(name: string): boolean {
    const file = path.join(this.#o.dir, name);
    const read = readBounded(file);
    if ("gone" in read) return true; // taken by an earlier pass that raced with this listing
    if ("error" in read) {
      this.#setAside(name, `unreadable: ${read.error}`);
      return true;
    }
    const report = decodeSpooled(read.text);
    if ("damaged" in report) {
      this.#setAside(name, `damaged: ${report.damaged}`);
      return true;
    }
    let verdict: IntakeVerdict;
    try {
      verdict = this.#o.apply(report);
    } catch (err: unknown) {
      this.#o.log.error("spooled report could not be applied; kept for the next start", {
        file: name,
        error: String(err),
      });
      this.#stuck.add(name);
      return true;
    }
    if (verdict.kind === "later") {
      if (this.#waitingSince === undefined)
        this.#o.log.warn("the node cannot take in spooled reports now; trying again", {
          file: name,
          reason: verdict.reason,
        });
      this.#waitingSince ??= this.#o.now();
      return false;
    }
    if (this.#waitingSince !== undefined) {
      this.#o.log.info("spooled reports are taken in again");
      this.#waitingSince = undefined;
    }
    if (verdict.kind === "refused") {
      this.#setAside(name, verdict.reason, report);
      return true;
    }
    this.stats.taken++;
    this.#o.log.info("spooled report taken in", {
      ip: report.ip,
      jail: report.jail,
      spooled: new Date(report.time).toISOString(),
      status: verdict.status,
    });
    try {
      fs.unlinkSync(file);
    } catch (err: unknown) {
      // Taken in already: a second pass answers `duplicate`, but do not loop on it.
      this.#o.log.warn("cannot remove a spool file that was taken in", { file, error: String(err) });
      this.#stuck.add(name);
    }
    return true;
  }

  #setAside(name: string, reason: string, report?: SpooledReport): void {
    const file = path.join(this.#o.dir, name);
    this.stats.setAside++;
    const fields = { file: name, reason, ...(report ? { ip: report.ip, jail: report.jail } : {}) };
    try {
      fs.mkdirSync(this.#bad, { recursive: true, mode: 0o770 });
      if (fs.readdirSync(this.#bad).length >= MAX_BAD_FILES) {
        fs.unlinkSync(file);
        this.#o.log.warn("bad spool file deleted (bad/ is full)", { ...fields, limit: MAX_BAD_FILES });
        return;
      }
      fs.renameSync(file, path.join(this.#bad, name));
      this.#o.log.warn("bad spool file set aside", { ...fields, to: this.#bad });
    } catch (err: unknown) {
      this.#stuck.add(name);
      this.#o.log.error("bad spool file could not be set aside; skipped until restart", {
        ...fields,
        error: String(err),
      });
    }
  }

  /** The folder was removed while the node ran: make it again and watch the new one. */
  #recreate(): void {
    try {
      this.#prepareFolder();
    } catch (err: unknown) {
      this.#o.log.warn("cannot recreate the spool folder", { error: String(err) });
      return;
    }
    this.#o.log.info("spool folder recreated", { dir: this.#o.dir });
    this.#watch();
  }

  /** Removes temporary files whose writer died before renaming them. */
  #removeStaleTmp(names: readonly string[]): void {
    const now = this.#o.now();
    for (const name of names) {
      if (!name.startsWith(SPOOL_TMP_PREFIX)) continue;
      const file = path.join(this.#o.dir, name);
      try {
        if (now - fs.statSync(file).mtimeMs < STALE_TMP_MS) continue;
        fs.unlinkSync(file);
        this.#o.log.warn("removed an unfinished spool file", { file: name });
      } catch {
        // Renamed or removed meanwhile: nothing to clean.
      }
    }
  }

  /** The folder exists, and when the node owns it, has the mode `report` expects (setgid, group-writable). */
  #prepareFolder(): void {
    const dir = this.#o.dir;
    let stats: fs.Stats;
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o770 });
      stats = fs.statSync(dir);
    } catch (err: unknown) {
      throw new Error(`cannot use spool_dir ${dir}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!stats.isDirectory()) throw new Error(`spool_dir ${dir} is not a folder`);
    if (stats.uid === process.getuid?.() && (stats.mode & 0o7777) !== SPOOL_DIR_MODE) {
      try {
        fs.chmodSync(dir, SPOOL_DIR_MODE);
      } catch (err: unknown) {
        this.#o.log.warn("cannot set the spool folder's mode", { dir, error: String(err) });
      }
    }
  }
}

/** A file's text, at most MAX_SPOOL_FILE_BYTES + 1 bytes of it (more means damaged). */
function readBounded(file: string): { text: string } | { error: string } | { gone: true } {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { gone: true };
    return { error: code ?? String(err) };
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return { error: "not a regular file" };
    const buffer = Buffer.alloc(MAX_SPOOL_FILE_BYTES + 1);
    const length = fs.readSync(fd, buffer, 0, buffer.length, 0);
    return { text: buffer.toString("utf8", 0, length) };
  } catch (err: unknown) {
    return { error: (err as NodeJS.ErrnoException).code ?? String(err) };
  } finally {
    fs.closeSync(fd);
  }
}
