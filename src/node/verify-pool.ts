import os from "node:os";
import { Worker } from "node:worker_threads";
import type { CarriedReport } from "../protocol/envelope.js";
import type { VerifyAnswer, VerifyRequest } from "./verify-worker.js";

/**
 * Most signature-check threads: one per core but the main thread's, up to this. Sync pages come
 * from one answer at a time per friend (catch-up.ts flow control), so more rarely has work.
 */
export const MAX_VERIFY_THREADS = 4;

/**
 * Nice value of the signature-check threads (Linux: per thread). They work for catch-up sync, which
 * may wait; the main thread carries live messages, which should not: when the cores are busy, the
 * scheduler gives the main thread the larger share (about 9:1 at nice 10; docs/performance.md).
 */
export const VERIFY_THREAD_NICE = 10;

/**
 * A record's verdict from the pool: true or false when a thread checked it (its origin signature,
 * as checkEntry would), undefined when no thread did (the pool failed): the caller checks it itself.
 */
export type Verdicts = (carried: CarriedReport) => boolean | undefined;

const NONE: Verdicts = () => undefined;

interface Thread {
  readonly worker: Worker;
  /** Batches sent and not yet answered: id → what to resolve. */
  readonly waiting: Map<number, { reports: readonly CarriedReport[]; done: (v: Verdicts) => void }>;
}

/**
 * Checks origin signatures on worker threads (node:worker_threads): of the records in sync pages
 * that arrive, and of the stored reports a catch-up answer is about to send (their re-check), so the
 * main thread takes in one page (store writes, commits, live messages) while the next is being
 * checked on another core. A catch-up of 15,000 reports is about 2 s of signature checks
 * (docs/performance.md "catch-up"). Nothing is skipped: every record is checked, on a thread or, if
 * the pool fails, by the caller. Threads start on first use and never keep the process alive.
 */
export class VerifyPool {
  readonly #size: number;
  readonly #threads: Thread[] = [];
  #next = 0;
  #ids = 0;
  #closed = false;

  constructor(size = Math.min(MAX_VERIFY_THREADS, Math.max(1, os.availableParallelism() - 1))) {
    this.#size = size;
  }

  /**
   * The verdicts for `reports` (one batch, one thread). Never rejects: should the thread fail, the
   * verdicts are all undefined and the caller verifies.
   */
  verify(reports: readonly CarriedReport[]): Promise<Verdicts> {
    const thread = this.#closed ? undefined : this.#thread();
    if (thread === undefined || reports.length === 0) return Promise.resolve(NONE);
    const lengths = new Uint32Array(reports.length * 2);
    const parts: Buffer[] = [];
    reports.forEach((r, i) => {
      lengths[2 * i] = r.bytes.length;
      lengths[2 * i + 1] = r.signature.length;
      parts.push(r.bytes, r.signature);
    });
    // One fresh buffer, moved to the thread: the records are views into received frames.
    const packed = Buffer.concat(parts);
    const data = packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.length);
    const id = ++this.#ids;
    return new Promise((done) => {
      thread.waiting.set(id, { reports, done });
      const request: VerifyRequest = { id, data, lengths };
      thread.worker.postMessage(request, [data, lengths.buffer]);
    });
  }

  /** Ends every thread; batches still waiting get no verdicts (their callers verify). */
  close(): void {
    this.#closed = true;
    for (const thread of this.#threads.splice(0)) this.#fail(thread);
  }

  #thread(): Thread | undefined {
    if (this.#threads.length < this.#size) {
      try {
        this.#threads.push(this.#start());
      } catch {
        // No thread could be started: with none at all, the caller verifies.
      }
    }
    if (this.#threads.length === 0) return undefined;
    return this.#threads[this.#next++ % this.#threads.length];
  }

  #start(): Thread {
    const worker = new Worker(new URL("./verify-worker.js", import.meta.url), {
      workerData: { nice: VERIFY_THREAD_NICE },
    });
    worker.unref();
    const thread: Thread = { worker, waiting: new Map() };
    worker.on("message", ({ id, valid }: VerifyAnswer) => {
      const batch = thread.waiting.get(id);
      if (batch === undefined) return;
      thread.waiting.delete(id);
      const verdicts = new Map<CarriedReport, boolean>();
      batch.reports.forEach((r, i) => {
        verdicts.set(r, valid[i] === 1);
      });
      batch.done((carried) => verdicts.get(carried));
    });
    // A thread that fails or ends is replaced at the next batch; its batches are checked by the caller.
    const lost = (): void => {
      const at = this.#threads.indexOf(thread);
      if (at >= 0) this.#threads.splice(at, 1);
      this.#fail(thread);
    };
    worker.on("error", lost);
    worker.on("exit", lost);
    return thread;
  }

  #fail(thread: Thread): void {
    for (const { done } of thread.waiting.values()) done(NONE);
    thread.waiting.clear();
    void thread.worker.terminate();
  }
}
