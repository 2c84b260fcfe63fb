import type { Verdicts } from "./verify-pool.js";

/**
 * Signatures checked ahead in one batch on the verify pool: an envelope's and each record's. 64 is
 * one full envelope, or 32 envelopes of one report each.
 */
export const AHEAD_BATCH_SIGNATURES = 64;
/**
 * Most messages waiting here to be taken in. Beyond it the listener stops reading (libzmq's receive
 * high-water mark then holds the rest back at the sender): at most about 6 MB of full envelopes. It
 * also bounds how long a quiet friend's message waits here behind a flooding friend's.
 */
export const MAX_WAITING_MESSAGES = 128;
/** Longest the queue is taken in back to back before the rest of the event loop may run (ms). */
export const TAKE_TURN_MS = 2;
/**
 * Messages count as a backlog once this many in a row were read while the socket held more: a short
 * burst (a few friends' copies of one report) is taken in at once, as it came, with no thread round
 * trip (which would let a copy with a longer path overtake a shorter one).
 */
export const BACKLOG_AFTER_MESSAGES = 16;

export interface LiveBacklogOptions {
  /** Checks the signatures of these messages on other threads (VerifyPool.verifyMessages). */
  readonly verify: (messages: readonly Buffer[][]) => Promise<Verdicts>;
  /** Takes one message in, exactly as one that did not wait, with the verdicts of its signatures. */
  readonly take: (frames: Buffer[], verdicts: Verdicts | undefined) => void;
  /**
   * Whether a waiting message's signatures are worth checking ahead: an envelope from a friend
   * within its rate limit (checked before any signature, as when it is taken in).
   */
  readonly worthChecking: (frames: readonly Buffer[]) => boolean;
}

interface Batch {
  readonly messages: Buffer[][];
  signatures: number;
  sent: boolean;
  /** Set when the pool has answered (NONE-like undefined verdicts mean: check on the main thread). */
  done: boolean;
  verdicts: Verdicts | undefined;
}

/**
 * Live messages that arrive while others wait (the listener's socket still holds more): their
 * envelope and record signatures are checked on the verify pool's threads, a batch at a time, while
 * the main thread takes in the messages before them. Messages are taken in strictly in the order
 * they arrived, each exactly as it would be without waiting (openMessage and checkEntry use the
 * thread's verdict instead of verifying again, or verify themselves when there is none). A message
 * that arrives while nothing waits is taken in at once: an idle node pays no thread round trip per
 * hop. docs/performance.md ("ingest") has the measurements.
 */
export class LiveBacklog {
  readonly #o: LiveBacklogOptions;
  #waiting: { frames: Buffer[]; batch: Batch | undefined }[] = [];
  #open: Batch | undefined;
  #pumping = false;
  #roomWaiters: (() => void)[] = [];
  /** Messages read in a row while the socket held more. */
  #moreInARow = 0;

  constructor(options: LiveBacklogOptions) {
    this.#o = options;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * A message from the listener; `more` when the socket holds more already. Taken in at once unless
   * messages wait here or more than BACKLOG_AFTER_MESSAGES were read in a row with more waiting. Returns a promise when
   * MAX_WAITING_MESSAGES wait: the listener reads on once it resolves.
   */
  offer(frames: Buffer[], more: boolean): Promise<void> | undefined {
    this.#moreInARow = more ? this.#moreInARow + 1 : 0;
    const backlog = this.#moreInARow > BACKLOG_AFTER_MESSAGES;
    if (this.#waiting.length === 0 && !backlog) {
      this.#o.take(frames, undefined);
      return undefined;
    }
    let batch: Batch | undefined;
    if (this.#o.worthChecking(frames)) {
      batch = this.#open ?? this.#openBatch();
      batch.messages.push(frames);
      batch.signatures += frames.length / 2;
      if (batch.signatures >= AHEAD_BATCH_SIGNATURES) this.#send(batch);
    }
    this.#waiting.push({ frames, batch });
    // The burst is over: what waits is checked now rather than when a batch would be full.
    if (!more && this.#open !== undefined) this.#send(this.#open);
    this.#pump();
    if (this.#waiting.length < MAX_WAITING_MESSAGES) return undefined;
    if (this.#open !== undefined) this.#send(this.#open);
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Forgets everything waiting (the node stops); a listener held back reads on. */
  clear(): void {
    this.#waiting = [];
    this.#open = undefined;
    for (const resolve of this.#roomWaiters.splice(0)) resolve();
  }

  #openBatch(): Batch {
    const batch: Batch = { messages: [], signatures: 0, sent: false, done: false, verdicts: undefined };
    this.#open = batch;
    // A batch that does not fill up is sent at the end of this turn at the latest.
    setImmediate(() => this.#send(batch));
    return batch;
  }

  #send(batch: Batch): void {
    if (batch.sent) return;
    batch.sent = true;
    if (this.#open === batch) this.#open = undefined;
    void this.#o.verify(batch.messages).then((verdicts) => {
      batch.verdicts = verdicts;
      batch.done = true;
      this.#pump();
    });
  }

  /** Takes in waiting messages in order while their verdicts are in, for TAKE_TURN_MS at a time. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    const started = performance.now();
    try {
      while (this.#waiting.length > 0) {
        const next = this.#waiting[0]!;
        if (next.batch !== undefined && !next.batch.done) return;
        if (performance.now() - started >= TAKE_TURN_MS) {
          setImmediate(() => this.#pump());
          return;
        }
        this.#waiting.shift();
        this.#o.take(next.frames, next.batch?.verdicts);
      }
    } finally {
      this.#pumping = false;
      if (this.#waiting.length < MAX_WAITING_MESSAGES / 2)
        for (const resolve of this.#roomWaiters.splice(0)) resolve();
    }
  }
}
