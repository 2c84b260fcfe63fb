import type { KeyObject } from "node:crypto";
import * as zmq from "zeromq";
import { MAX_ENTRIES } from "../protocol/constants.js";
import { type CarriedReport, type Entry, sealEnvelope } from "../protocol/envelope.js";
import type { Logger } from "../util/logger.js";

/** A report queued for one friend: the entry we sign for it and the origin's bytes that go with it. */
/** How long after a friend refused our key (ZAP) we connect again. */
const RETRY_AFTER_REFUSAL_MS = 5000;

export interface Outgoing {
  readonly entry: Entry;
  readonly report: CarriedReport;
}

interface Slot {
  readonly id: string;
  item: Outgoing;
}

/** A copy makes a waiting one pointless when it is at least as good in trust and in path length. */
function supersedes(offered: Entry, waiting: Entry): boolean {
  return offered.trust >= waiting.trust && offered.path.length <= waiting.path.length;
}

export interface FriendLinkOptions {
  readonly context: zmq.Context;
  readonly endpoint: string;
  readonly serverKey: string;
  readonly curvePublicKey: string;
  readonly curveSecretKey: string;
  readonly self: Buffer;
  readonly friendKey: Buffer;
  readonly signer: KeyObject;
  readonly log: Logger;
  /** Reports kept for a friend that is away; beyond this the oldest are dropped and counted. */
  readonly maxQueued?: number;
  readonly now: () => number;
  /**
   * Called when the friend is back after a disconnect, with the time the link went down. ZeroMQ
   * PUSH has no acknowledgements: what was in flight when the connection dropped is gone, so the
   * node sends again what it accepted around and after that time. Duplicates are dropped by id.
   */
  readonly onReconnect?: (downSince: number) => void;
}

/**
 * The outbound side towards one friend: a PUSH socket connected as a CURVE client. ZeroMQ reconnects
 * by itself when the friend comes back. Reports queue here and leave in signed envelopes of up to
 * MAX_ENTRIES: one at a time when the line is idle (no added latency), in batches under load, so the
 * envelope signature is paid once per batch.
 */
export class FriendLink {
  readonly #options: FriendLinkOptions;
  readonly #socket: zmq.Push;
  readonly #queue: Slot[] = [];
  /** Queued, not yet sent, by report id: a better copy takes the place of a waiting worse one. */
  readonly #waiting = new Map<string, Slot>();
  readonly #held: Slot[] = [];
  #holdTimer: NodeJS.Timeout | undefined;
  #pumping = false;
  #closed = false;
  #dropped = 0;
  #connected = false;
  #downSince: number | undefined;
  #refusalRetry: NodeJS.Timeout | undefined;
  sent = 0;

  constructor(options: FriendLinkOptions) {
    this.#options = options;
    this.#socket = new zmq.Push({
      context: options.context,
      curveServerKey: options.serverKey,
      curvePublicKey: options.curvePublicKey,
      curveSecretKey: options.curveSecretKey,
      sendHighWaterMark: 1000,
      reconnectInterval: 100,
      reconnectMaxInterval: 5000,
      heartbeatInterval: 10_000,
      heartbeatTimeout: 30_000,
      linger: 2000,
    });
    this.#socket.events.on("handshake", () => {
      this.#connected = true;
      options.log.info("connected", { endpoint: options.endpoint });
      const downSince = this.#downSince;
      this.#downSince = undefined;
      if (downSince !== undefined) options.onReconnect?.(downSince);
    });
    this.#socket.events.on("disconnect", () => {
      this.#connected = false;
      this.#downSince ??= options.now();
      options.log.warn("disconnected; reconnecting", { endpoint: options.endpoint });
    });
    this.#socket.events.on("handshake:error:auth", () => {
      options.log.warn("friend refused our key: does it list us in friends.d?", {
        endpoint: options.endpoint,
      });
      this.#retryAfterRefusal();
    });
  }

  /**
   * libzmq drops a connection whose handshake failed on authentication and never tries that
   * endpoint again. The friend may add us to its friends.d and reload meanwhile: connect again later.
   */
  #retryAfterRefusal(): void {
    if (this.#closed || this.#refusalRetry !== undefined) return;
    this.#refusalRetry = setTimeout(() => {
      this.#refusalRetry = undefined;
      if (this.#closed) return;
      try {
        this.#socket.disconnect(this.#options.endpoint);
      } catch {
        // already gone: libzmq removed the endpoint with the failed session
      }
      this.#socket.connect(this.#options.endpoint);
    }, RETRY_AFTER_REFUSAL_MS);
    this.#refusalRetry.unref();
  }

  start(): void {
    this.#socket.connect(this.#options.endpoint);
  }

  /** True once the CURVE handshake with the friend has succeeded, until the connection drops. */
  get connected(): boolean {
    return this.#connected;
  }

  get queued(): number {
    return this.#queue.length;
  }

  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Queues a report for this friend. `holdMs` > 0 holds it back that long first: used for improved
   * copies, so that a run of improvements of one report leaves as one entry, not one per step.
   */
  enqueue(item: Outgoing, holdMs = 0): void {
    if (this.#closed) return;
    const id = item.entry.id.toString("hex");
    const waiting = this.#waiting.get(id);
    if (waiting !== undefined && supersedes(item.entry, waiting.item.entry)) {
      waiting.item = item;
      return;
    }
    const slot = { id, item };
    this.#waiting.set(id, slot);
    if (holdMs > 0) {
      this.#held.push(slot);
      this.#holdTimer ??= setTimeout(() => this.#releaseHeld(), holdMs);
      return;
    }
    this.#push(slot);
  }

  #releaseHeld(): void {
    this.#holdTimer = undefined;
    for (const slot of this.#held.splice(0)) this.#push(slot);
  }

  #push(slot: Slot): void {
    if (this.#closed) return;
    this.#queue.push(slot);
    const max = this.#options.maxQueued ?? 100_000;
    if (this.#queue.length > max) {
      this.#forget(this.#queue.shift()!);
      this.#dropped++;
      if (this.#dropped % 1000 === 1)
        this.#options.log.warn("queue full, dropping oldest", { dropped: this.#dropped });
    }
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const batch = this.#queue.splice(0, MAX_ENTRIES);
        for (const slot of batch) this.#forget(slot);
        const frames = sealEnvelope(
          { from: this.#options.self, to: this.#options.friendKey, entries: batch.map((s) => s.item.entry) },
          batch.map((s) => s.item.report),
          this.#options.signer,
        );
        await this.#socket.send(frames);
        this.sent += batch.length;
      }
    } catch (err: unknown) {
      if (!this.#closed) this.#options.log.error("send failed", { error: String(err) });
    } finally {
      this.#pumping = false;
    }
  }

  #forget(slot: Slot): void {
    if (this.#waiting.get(slot.id) === slot) this.#waiting.delete(slot.id);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#holdTimer);
    clearTimeout(this.#refusalRetry);
    this.#socket.close();
  }
}
