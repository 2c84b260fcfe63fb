import os from "node:os";
import { Worker } from "node:worker_threads";
import type { CarriedReport } from "../protocol/envelope.js";
import { ITEM_ENVELOPE, ITEM_RECORD, type VerifyAnswer, type VerifyRequest } from "./verify-worker.js";

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
 * Heap of a signature-check thread (MB): it holds one batch at a time, a few hundred KB at most. V8's
 * defaults would let each thread's young generation grow to tens of MB of resident memory under a
 * flood before it collects. A thread that runs out anyway ends; its batches are checked by the caller.
 */
export const VERIFY_THREAD_HEAP = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 } as const;

/**
 * An item's verdict from the pool, for exactly the bytes and signature objects that were sent (a
 * copy with the same content has none): true or false when a thread checked it (a record's origin
 * signature as checkEntry would, an envelope's hop signature as openMessage would), undefined when
 * no thread did (the pool failed, or it was not sent): the caller checks it itself.
 */
export type Verdicts = (signed: CarriedReport) => boolean | undefined;

const NONE: Verdicts = () => undefined;

interface Item extends CarriedReport {
  readonly kind: typeof ITEM_RECORD | typeof ITEM_ENVELOPE;
}

interface Thread {
  readonly worker: Worker;
  /** Batches sent and not yet answered: id → what to resolve. */
  readonly waiting: Map<number, { items: readonly Item[]; done: (v: Verdicts) => void }>;
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
    return this.#check(reports.map((r) => ({ bytes: r.bytes, signature: r.signature, kind: ITEM_RECORD })));
  }

  /**
   * The verdicts for whole envelope messages (frames as received): each envelope's hop signature,
   * looked up as `{ bytes: frames[0], signature: frames[1] }`, and each record it carries. Frames
   * that are no envelope get verdicts nobody asks for; openMessage and checkEntry check the rest.
   */
  verifyMessages(messages: readonly (readonly Buffer[])[]): Promise<Verdicts> {
    const items: Item[] = [];
    for (const frames of messages) {
      if (frames.length < 2) continue;
      items.push({ bytes: frames[0]!, signature: frames[1]!, kind: ITEM_ENVELOPE });
      for (let i = 2; i + 1 < frames.length; i += 2)
        items.push({ bytes: frames[i]!, signature: frames[i + 1]!, kind: ITEM_RECORD });
    }
    return this.#check(items);
  }

  #check(items: readonly Item[]): Promise<Verdicts> {
    const thread = this.#closed ? undefined : this.#thread();
    if (thread === undefined || items.length === 0) return Promise.resolve(NONE);
    const lengths = new Uint32Array(items.length * 2);
    const kinds = new Uint8Array(items.length);
    const parts: Buffer[] = [];
    items.forEach((item, i) => {
      lengths[2 * i] = item.bytes.length;
      lengths[2 * i + 1] = item.signature.length;
      kinds[i] = item.kind;
      parts.push(item.bytes, item.signature);
    });
    // One fresh buffer, moved to the thread: the items are views into received frames.
    const packed = Buffer.concat(parts);
    const data = packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.length);
    const id = ++this.#ids;
    return new Promise((done) => {
      thread.waiting.set(id, { items, done });
      const request: VerifyRequest = { id, data, lengths, kinds };
      thread.worker.postMessage(request, [data, lengths.buffer, kinds.buffer]);
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
      resourceLimits: VERIFY_THREAD_HEAP,
    });
    worker.unref();
    const thread: Thread = { worker, waiting: new Map() };
    worker.on("message", ({ id, valid }: VerifyAnswer) => {
      const batch = thread.waiting.get(id);
      if (batch === undefined) return;
      thread.waiting.delete(id);
      batch.done(verdictsOf(batch.items, valid));
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

/** Verdicts by the identity of the bytes and signature objects checked (one bytes object may come with several signatures). */
function verdictsOf(items: readonly Item[], valid: Uint8Array): Verdicts {
  const byBytes = new Map<Buffer, { signature: Buffer; valid: boolean }[]>();
  items.forEach((item, i) => {
    const held = byBytes.get(item.bytes);
    const verdict = { signature: item.signature, valid: valid[i] === 1 };
    if (held === undefined) byBytes.set(item.bytes, [verdict]);
    else held.push(verdict);
  });
  return (signed) => byBytes.get(signed.bytes)?.find((v) => v.signature === signed.signature)?.valid;
}
