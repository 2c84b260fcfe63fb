import { Worker } from "node:worker_threads";

/**
 * How often the background checkpointer copies the write-ahead log into state.db (ms). At the
 * node's highest write rate (about 6 WAL pages per report, 4,000 reports/s) that is about 2,400
 * pages (10 MB) per round, below the backstop (WAL_BACKSTOP_PAGES), so the backstop stays idle.
 */
export const CHECKPOINT_EVERY_MS = 100;

/**
 * With the checkpointer running, the node's own connection checkpoints only when the WAL has grown
 * past this many pages (SQLite's wal_autocheckpoint; its default, without the checkpointer, is
 * 1,000): a checkpointer that falls behind or died cannot let the WAL grow without bound.
 */
export const WAL_BACKSTOP_PAGES = 16_384;

/**
 * Moves SQLite's WAL checkpoints off the thread that commits. A checkpoint copies every page the WAL
 * holds back into the database and syncs both files; run by the committing connection (SQLite's
 * default, every 1,000 pages) it is about half of what a commit costs (measured,
 * docs/performance.md "catch-up"), and it lands in whichever report's commit crosses the mark.
 * Durability does not depend on it: a commit is in the WAL, and survives a kill, before any
 * checkpoint. `onFailure` is called once if the worker thread fails (it then has stopped).
 */
export class Checkpointer {
  readonly #worker: Worker;
  #stopped = false;

  constructor(file: string, onFailure: (err: Error) => void) {
    this.#worker = new Worker(new URL("./checkpoint-worker.js", import.meta.url), {
      workerData: { file, everyMs: CHECKPOINT_EVERY_MS },
    });
    // A running checkpointer never keeps the process alive: the node's own timers decide that.
    this.#worker.unref();
    this.#worker.on("error", (err) => {
      if (this.#stopped) return;
      this.#stopped = true;
      onFailure(err);
    });
  }

  /** Asks the worker to close its connection and end; returns at once. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#worker.postMessage("stop");
  }
}
