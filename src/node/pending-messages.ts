/** Most messages kept in memory while the store cannot write; beyond it, friends' resends cover them. */
export const MAX_PENDING_MESSAGES = 10_000;
/** Most bytes kept for them (a full envelope is about 35 KB): a bound on memory whatever the outage. */
export const MAX_PENDING_BYTES = 64 * 1024 * 1024;

/**
 * Friends' messages whose store transaction failed (disk full, I/O error), kept as received so they
 * are checked and applied again, in order, once the store writes again. Bounded in count and bytes.
 */
export class PendingMessages {
  #messages: Buffer[][] = [];
  #bytes = 0;

  get count(): number {
    return this.#messages.length;
  }

  /** Keeps a message; false when the bounds are reached and it was not kept. */
  add(frames: readonly Buffer[]): boolean {
    const size = frames.reduce((n, f) => n + f.length, 0);
    if (this.#messages.length >= MAX_PENDING_MESSAGES || this.#bytes + size > MAX_PENDING_BYTES) return false;
    // Copies: the frames may be views into a larger buffer that must not stay alive with them.
    this.#messages.push(frames.map((f) => Buffer.from(f)));
    this.#bytes += size;
    return true;
  }

  /** Everything kept, oldest first, emptying the queue (what fails again is added back). */
  takeAll(): Buffer[][] {
    const all = this.#messages;
    this.#messages = [];
    this.#bytes = 0;
    return all;
  }
}
