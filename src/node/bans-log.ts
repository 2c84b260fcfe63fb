import fs from "node:fs";
import path from "node:path";
import { chownLikeParent, mkdirOwnedLikeParent } from "../util/owner.js";

/** Mode of a bans log the node creates: fail2ban (root) reads it, group f2bp2p may. */
const BANS_LOG_MODE = 0o640;
const BANS_LOG_DIR_MODE = 0o750;

/** A bans log write or open failed; nothing of the failed write is left in the file. */
export class BansLogError extends Error {
  readonly code = "ERR_BANS_LOG";
  /** A short stable cause, e.g. "no space left on device": what once-per-cause logging keys on. */
  readonly reason: string;
  constructor(file: string, cause: string) {
    super(`bans log ${file}: ${cause}`);
    this.name = "BansLogError";
    this.reason = cause;
  }
}

/**
 * The file fail2ban's f2bp2p jail watches. Lines are appended whole or not at all: a short write (disk
 * full) is cut back off, so a half line is never glued to the next one, which fail2ban would miss.
 * The file is opened without following a symbolic link, created with an explicit mode, and checked
 * before each write: a bans log deleted or replaced while the node runs is noticed and recreated.
 * reopen() follows logrotate (SIGHUP) and keeps the old file when the new one cannot be opened.
 */
export class BansLog {
  readonly #file: string;
  #fd: number | undefined;
  #ino = 0;
  #dev = 0;
  /** Set when a cut-back failed: the file may end in a partial line, so the next write starts a new one. */
  #needsNewline = false;

  constructor(file: string) {
    this.#file = file;
  }

  get file(): string {
    return this.#file;
  }

  /** Opens (or creates) the file; throws BansLogError with the cause. */
  open(): void {
    const fd = this.#openFile();
    this.#replaceFd(fd);
  }

  /**
   * Appends `text` (one or more whole lines). Throws BansLogError when it could not be written whole;
   * the file is then as it was before the call. Says whether the file had to be created again first,
   * or why the path could not be opened so the old file was written instead.
   */
  write(text: string): { recreated: boolean; keptOld?: BansLogError } {
    const current = this.#ensureCurrent();
    const fd = this.#fd!;
    const data = Buffer.from(this.#needsNewline ? `\n${text}` : text);
    let before: number;
    try {
      before = fs.fstatSync(fd).size;
    } catch (err: unknown) {
      throw this.#error(err);
    }
    let written = 0;
    try {
      while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written);
    } catch (err: unknown) {
      this.#cutBack(fd, before, written);
      throw this.#error(err);
    }
    this.#needsNewline = false;
    return current;
  }

  /** Starts a new file at the configured path (logrotate moved the old one); keeps the old on failure. */
  reopen(): void {
    const fd = this.#openFile();
    this.#replaceFd(fd);
  }

  close(): void {
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = undefined;
  }

  /**
   * Reopens when the path no longer names the open file (deleted, or replaced by another file). When
   * the path cannot be opened (a directory in the way, a file the node may not write), the old file
   * stays in use: a ban line in a rotated file is better than none.
   */
  #ensureCurrent(): { recreated: boolean; keptOld?: BansLogError } {
    if (this.#fd === undefined) {
      this.open();
      return { recreated: false };
    }
    const onDisk = fs.statSync(this.#file, { throwIfNoEntry: false });
    if (onDisk !== undefined && onDisk.ino === this.#ino && onDisk.dev === this.#dev)
      return { recreated: false };
    try {
      this.open();
    } catch (err: unknown) {
      if (err instanceof BansLogError) return { recreated: false, keptOld: err };
      throw err;
    }
    return { recreated: true };
  }

  #openFile(): number {
    try {
      mkdirOwnedLikeParent(path.dirname(this.#file), BANS_LOG_DIR_MODE);
      const flags = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW;
      try {
        const fd = fs.openSync(this.#file, flags | fs.constants.O_CREAT | fs.constants.O_EXCL, BANS_LOG_MODE);
        fs.fchmodSync(fd, BANS_LOG_MODE);
        chownLikeParent(fd, path.dirname(this.#file));
        return fd;
      } catch (err: unknown) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        const fd = fs.openSync(this.#file, flags);
        if (!fs.fstatSync(fd).isFile()) {
          fs.closeSync(fd);
          throw Object.assign(new Error("not a regular file"), { code: "ENOTREG" });
        }
        return fd;
      }
    } catch (err: unknown) {
      throw this.#error(err);
    }
  }

  #replaceFd(fd: number): void {
    const stat = fs.fstatSync(fd);
    this.close();
    this.#fd = fd;
    this.#ino = stat.ino;
    this.#dev = stat.dev;
    // A file that ends in a partial line (a crash mid-write in another life) gets a fresh line first.
    this.#needsNewline = stat.size > 0 && !endsWithNewline(fd, stat.size);
  }

  #cutBack(fd: number, size: number, written: number): void {
    if (written === 0) return;
    try {
      fs.ftruncateSync(fd, size);
    } catch {
      this.#needsNewline = true;
    }
  }

  #error(err: unknown): BansLogError {
    return new BansLogError(this.#file, describeIoError(err));
  }
}

function endsWithNewline(fd: number, size: number): boolean {
  const last = Buffer.alloc(1);
  try {
    const readFd = fs.openSync(`/proc/self/fd/${fd}`, "r");
    try {
      fs.readSync(readFd, last, 0, 1, size - 1);
    } finally {
      fs.closeSync(readFd);
    }
  } catch {
    return true; // cannot tell: assume whole lines
  }
  return last[0] === 0x0a;
}

/** An errno in the words a sysadmin acts on. */
export function describeIoError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOSPC":
      return "no space left on device";
    case "EDQUOT":
      return "disk quota exceeded";
    case "EIO":
      return "I/O error";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "read-only file system";
    case "EISDIR":
      return "is a directory";
    case "ENOTREG":
      return "is not a regular file";
    case "ELOOP":
      return "is a symbolic link, which the node does not follow";
    case "ENOENT":
      return "no such file or directory";
    case "ENOTDIR":
      return "a parent is not a directory";
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
