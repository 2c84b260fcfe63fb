import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { createOwnedLikeParent } from "../util/owner.js";
import { StoreLockedError } from "./store.js";

export const LOCK_FILE = "node.lock";

/**
 * One node per state dir: an exclusive lock on `state_dir/node.lock`, held for the node's lifetime and
 * released by the kernel when the process ends, however it ends (a POSIX advisory lock, taken through
 * SQLite so no native code of our own is needed). A second node is refused before it opens, writes
 * or removes anything else: the lock is the first thing `run` takes.
 */
export class StateDirLock {
  readonly #db: Database.Database;

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Takes the lock or throws StoreLockedError; creates the lock file (mode 0600) if it is missing. */
  static acquire(stateDir: string): StateDirLock {
    const file = path.join(stateDir, LOCK_FILE);
    if (!fs.existsSync(file)) {
      try {
        createOwnedLikeParent(file, 0o600);
      } catch (err: unknown) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
    const db = new Database(file, { fileMustExist: true, timeout: 0 });
    try {
      // No journal file: the lock must never leave anything beside it.
      db.pragma("journal_mode = MEMORY");
      db.exec("BEGIN EXCLUSIVE");
    } catch (err: unknown) {
      db.close();
      if ((err as { code?: string }).code === "SQLITE_BUSY") throw new StoreLockedError(stateDir);
      throw err;
    }
    return new StateDirLock(db);
  }

  release(): void {
    if (!this.#db.open) return;
    this.#db.exec("ROLLBACK");
    this.#db.close();
  }
}
