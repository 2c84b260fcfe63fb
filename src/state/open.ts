import { mkdirOwnedLikeParent } from "../util/owner.js";
import { StateDirLock } from "./lock.js";
import { SqliteStore } from "./sqlite-store.js";

/** The state dir's mode: the store holds what friends sent, readable by the node's user only. */
const STATE_DIR_MODE = 0o750;

/** A node's state: its store and the lock that keeps a second node out, closed together. */
export interface NodeState {
  readonly store: SqliteStore;
  close(): void;
}

/**
 * Takes the state dir's lock first (a second node is refused before it touches anything: throws
 * StoreLockedError), then opens the store (throws StoreDamagedError for a damaged file, left as is).
 */
export function openNodeState(
  stateDir: string,
  onUpgrade?: (file: string, from: number, to: number) => void,
): NodeState {
  mkdirOwnedLikeParent(stateDir, STATE_DIR_MODE);
  const lock = StateDirLock.acquire(stateDir);
  let store: SqliteStore;
  try {
    store = new SqliteStore(stateDir, { backgroundCheckpoints: true, onUpgrade });
  } catch (err: unknown) {
    lock.release();
    throw err;
  }
  return {
    store,
    close() {
      store.close();
      lock.release();
    },
  };
}
