import type { Verdicts } from "./verify-pool.js";

/**
 * Signatures checked ahead in one batch on the verify pool: an envelope's and each record's. 64 is
 * one full envelope, or 32 envelopes of one report each.
 */
export const AHEAD_BATCH_SIGNATURES = 64;
/**
 * Most messages waiting here to be taken in. Beyond it the listener stops reading (libzmq's receive
 * high-water mark then holds the rest back at the sender): at most about 12 MB of full envelopes.
 */
export const MAX_WAITING_MESSAGES = 256;
/** Longest the queue is taken in back to back before the rest of the event loop may run (ms). */
export const TAKE_TURN_MS = 2;
/**
 * A sender's messages count as a backlog once this many of them in a row (no other sender's between)
 * were read while the socket held more: a short burst (a few friends' copies of one report) is taken
 * in at once, as it came, with no thread round trip (which would let a copy with a longer path
 * overtake a shorter one).
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
  /** Who the message says it is from (any stable text; "" when it does not say). */
  readonly senderOf: (frames: readonly Buffer[]) => string;
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
 * Live messages that arrive while others of the same sender wait (the listener's socket still holds
 * more): their envelope and record signatures are checked on the verify pool's threads, a batch at
 * a time, while the main thread takes in the messages before them. Each sender's messages are taken
 * in strictly in the order they arrived, each exactly as it would be without waiting (openMessage and checkEntry use the
 * thread's verdict instead of verifying again, or verify themselves when there is none). A message
 * that arrives while nothing waits is taken in at once: an idle node pays no thread round trip per
 * hop. docs/performance.md ("ingest") has the measurements.
 */
export class LiveBacklog {
  readonly #o: LiveBacklogOptions;
  #waiting: { frames: Buffer[]; batch: Batch | undefined; sender: string }[] = [];
  /** Messages waiting per sender: each sender's messages are taken in in the order they came. */
  readonly #waitingBySender = new Map<string, number>();
  #open: Batch | undefined;
  #pumping = false;
  #roomWaiters: (() => void)[] = [];
  /** The sender of the last message, and how many of its messages in a row came with more waiting. */
  #run = { sender: "", count: 0 };

  constructor(options: LiveBacklogOptions) {
    this.#o = options;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * A message from the listener; `more` when the socket holds more already. Taken in at once unless
   * messages of its sender wait here or its sender's messages are a backlog (BACKLOG_AFTER_MESSAGES). Returns a promise when
   * MAX_WAITING_MESSAGES wait: the listener reads on once it resolves.
   */
  offer(frames: Buffer[], more: boolean): Promise<void> | undefined {
    const sender = this.#o.senderOf(frames);
    this.#run =
      more && this.#run.sender === sender
        ? { sender, count: this.#run.count + 1 }
        : { sender, count: more ? 1 : 0 };
    const backlog = this.#run.count > BACKLOG_AFTER_MESSAGES;
    // Nothing of this sender waits: unless it is the one keeping the socket busy, in at once (a quiet
    // friend's report does not queue behind a flooding friend's).
    if (!this.#waitingBySender.has(sender) && !backlog) {
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
    this.#waiting.push({ frames, batch, sender });
    this.#waitingBySender.set(sender, (this.#waitingBySender.get(sender) ?? 0) + 1);
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
    this.#waitingBySender.clear();
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
        const left = this.#waitingBySender.get(next.sender)! - 1;
        if (left === 0) this.#waitingBySender.delete(next.sender);
        else this.#waitingBySender.set(next.sender, left);
        this.#o.take(next.frames, next.batch?.verdicts);
      }
    } finally {
      this.#pumping = false;
      // Read on as soon as there is room: libzmq reads its connections in turn, so a quiet friend's
      // message is among the next few read even while a flooding friend's fill this queue.
      if (this.#waiting.length < MAX_WAITING_MESSAGES)
        for (const resolve of this.#roomWaiters.splice(0)) resolve();
    }
  }
}
