import fs from "node:fs";
import path from "node:path";

/**
 * Files made by root in someone else's folder. The service runs as its own user (f2bp2p); an admin
 * who runs `f2bp2p keygen` or `f2bp2p run` as root must not leave root-owned files there that the
 * service then cannot read. The rule: a command writes as the owner of the folder it writes into
 * (root hands what it made to that owner), or refuses and says what to run instead.
 */

export interface FolderOwner {
  /** The folder whose owner counts: the nearest one that exists at or above the path asked about. */
  readonly folder: string;
  readonly uid: number;
  readonly gid: number;
}

/** The owner of `dir`, or of its nearest existing parent when `dir` does not exist yet. */
export function folderOwner(dir: string): FolderOwner {
  let folder = path.resolve(dir);
  for (;;) {
    try {
      const st = fs.statSync(folder);
      return { folder, uid: st.uid, gid: st.gid };
    } catch (err: unknown) {
      const parent = path.dirname(folder);
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || parent === folder) throw err;
      folder = parent;
    }
  }
}

export function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Gives `file` (just made by this process) to `owner` when this process is root and the owner is
 * another user; otherwise does nothing (only root can give files away, and anyone else already
 * writes as themselves).
 */
export function handToOwner(file: string, owner: FolderOwner): void {
  if (runningAsRoot() && owner.uid !== 0) fs.chownSync(file, owner.uid, owner.gid);
}

/**
 * Makes `dir` and its missing parents like `mkdir -p`, each new folder owned like the nearest
 * existing one above it. Returns that owner, for the files then written into `dir`.
 */
export function mkdirAsOwner(dir: string, mode: number): FolderOwner {
  const owner = folderOwner(dir);
  const first = fs.mkdirSync(dir, { recursive: true, mode });
  if (first !== undefined) {
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
      handToOwner(d, owner);
      if (d === path.resolve(first)) break;
    }
  }
  return owner;
}

/**
 * For a root process about to write into `folders`: the first one (or nearest existing parent)
 * owned by another user, i.e. where files made by root would be unreadable to their owner; null
 * when there is none or this process is not root.
 */
export function folderOfAnotherUser(folders: readonly string[]): (FolderOwner & { user: string }) | null {
  if (!runningAsRoot()) return null;
  for (const dir of folders) {
    const owner = folderOwner(dir);
    if (owner.uid !== 0) return { ...owner, user: userName(owner.uid) };
  }
  return null;
}

/** The name of `uid` from /etc/passwd, else the number as text. */
export function userName(uid: number): string {
  return nameFromDatabase("/etc/passwd", uid) ?? String(uid);
}

/** The name of `gid` from /etc/group, else the number as text. */
export function groupName(gid: number): string {
  return nameFromDatabase("/etc/group", gid) ?? String(gid);
}

function nameFromDatabase(file: string, id: number): string | undefined {
  try {
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      const [name, , number] = line.split(":");
      if (number === String(id) && name) return name;
    }
  } catch {
    // no database to read: the caller shows the number
  }
  return undefined;
}
