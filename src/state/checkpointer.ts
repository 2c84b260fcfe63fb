import { Worker } from "node:worker_threads";

/** How often the background checkpointer looks at how much the write-ahead log holds (ms). */
export const CHECKPOINT_POLL_MS = 100;

/**
 * WAL pages not yet copied into state.db that make the background checkpointer copy them: SQLite's
 * own default (wal_autocheckpoint 1,000), so checkpoints, and their two fsyncs, are as rare as before.
 */
export const CHECKPOINT_PAGES = 1_000;

/**
 * With the checkpointer running, the node's own connection checkpoints when the WAL has grown past
 * this many pages (its wal_autocheckpoint; 16 MiB): a checkpointer that falls behind or died cannot
 * let the WAL grow without bound. Under steady writes it is also what lets the WAL start over: a
 * PASSIVE checkpoint from another connection never catches up with a writer that keeps appending,
 * and only a checkpoint that copied every frame lets the next commit restart the WAL from its
 * beginning. The frames the worker copied already are not copied again, so this one is short.
 * Measured (15,000 reports, 64 per commit): 16,384 pages let the WAL reach 67 MB; 4,096 keep it
 * at 16–23 MB for most of the gain.
 */
export const WAL_BACKSTOP_PAGES = 4_096;

/**
 * Nice value of the checkpoint thread (Linux: per thread): when the cores are busy, copying pages
 * yields to the node's main thread, and the WAL grows towards WAL_BACKSTOP_PAGES instead.
 */
export const CHECKPOINT_THREAD_NICE = 10;

/**
 * Moves SQLite's WAL checkpoints off the thread that commits. A checkpoint copies every page the WAL
 * holds back into the database and syncs both files; run by the committing connection (SQLite's
 * default, every 1,000 pages) it is about half of what commits cost (measured,
 * docs/performance.md "catch-up"), and it lands in whichever report's commit crosses the mark.
 * Durability does not depend on it: a commit is in the WAL, and survives a kill, before any
 * checkpoint. `onFailure` is called once if the worker thread fails (it then has stopped).
 */
export class Checkpointer {
  readonly #worker: Worker;
  #stopped = false;

  constructor(file: string, onFailure: (err: Error) => void) {
    this.#worker = new Worker(new URL("./checkpoint-worker.js", import.meta.url), {
      workerData: { file, pollMs: CHECKPOINT_POLL_MS, pages: CHECKPOINT_PAGES, nice: CHECKPOINT_THREAD_NICE },
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
