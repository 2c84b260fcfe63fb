import fs from "node:fs";
import path from "node:path";

/**
 * Files and folders the node or the CLI creates get explicit modes (never what the umask leaves) and,
 * when created by root in a folder that belongs to someone else (the service user's state dir), that
 * folder's owner: root running a command by mistake must never leave files the service cannot read.
 */
export function createOwnedLikeParent(file: string, mode: number): void {
  const fd = fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, mode);
  try {
    fs.fchmodSync(fd, mode);
    chownLikeParent(fd, path.dirname(file));
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates `dir` (and missing parents) with `mode`, owned like its parent when root creates it. */
export function mkdirOwnedLikeParent(dir: string, mode: number): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) {
    fs.mkdirSync(d, { mode });
    fs.chmodSync(d, mode);
    if (process.getuid?.() === 0) {
      const parent = fs.statSync(path.dirname(d));
      if (parent.uid !== 0) fs.chownSync(d, parent.uid, parent.gid);
    }
  }
}

/** Gives an open file its folder's owner when root created it in someone else's folder. */
export function chownLikeParent(fd: number, dir: string): void {
  if (process.getuid?.() !== 0) return;
  const parent = fs.statSync(dir);
  if (parent.uid !== 0) fs.fchownSync(fd, parent.uid, parent.gid);
}
