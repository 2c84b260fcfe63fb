import type { KeyObject } from "node:crypto";
import { EventEmitter } from "node:events";
import * as zmq from "zeromq";
import { MAX_ENTRIES } from "../protocol/constants.js";
import { type CarriedReport, type Entry, sealEnvelope } from "../protocol/envelope.js";
import type { Logger } from "../util/logger.js";
import {
  LINK_STATE_TEXT,
  type LinkEvent,
  type LinkState,
  nextLinkState,
  RECONNECT_INTERVAL_MS,
  RECONNECT_MAX_INTERVAL_MS,
  redialsEarly,
  relinkDelay,
} from "./link-state.js";
import { LINK_SOCKET_OPTIONS } from "./socket-options.js";

const LINK_EVENTS: readonly LinkEvent[] = [
  "handshake",
  "handshake:error:auth",
  "handshake:error:protocol",
  "handshake:error:other",
  "connect:retry",
  "disconnect",
];

/** A report queued for one friend: the entry we sign for it and the origin's bytes that go with it. */
export interface Outgoing {
  readonly entry: Entry;
  readonly report: CarriedReport;
  /** When the report's lifetime ends (ms): a report still queued then is not sent. */
  readonly expiresAt: number;
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
  /** Reports kept for a friend that is away; beyond this the oldest are dropped and counted (MAX_QUEUED_REPORTS). */
  readonly maxQueued?: number;
  readonly now: () => number;
  /**
   * Called each time the CURVE handshake with the friend succeeds (first connection and every
   * reconnection): the node asks the friend for what it missed (catch-up sync).
   */
  readonly onConnected?: () => void;
  /** First wait before replacing a failed socket (tests shorten it); default RELINK_FIRST_DELAY_MS. */
  readonly relinkFirstDelayMs?: number;
  /**
   * A fixed wait of libzmq's after a refused or lost TCP connection, ms (tests lengthen it); by
   * default it backs off from RECONNECT_INTERVAL_MS to RECONNECT_MAX_INTERVAL_MS.
   */
  readonly reconnectIntervalMs?: number;
}

/** Events of a link: its state after every change, for the node's log, `status` and tests. */
export interface FriendLinkEvents {
  state: [LinkState];
}

/**
 * Reports kept in memory for one friend that is away or slow; beyond this the oldest are dropped
 * and counted (`status`: `dropped`). Nothing is lost by that: every report held is in the store's
 * catch-up log, and the friend gets what it lacks by catch-up sync when it reconnects and every
 * `sync_interval` (docs/protocol.md section 13). About 5 MB a friend; it was 100,000 (about 50 MB,
 * whose garbage collection stalled the node for 60-80 ms under a flood: docs/performance.md).
 */
export const MAX_QUEUED_REPORTS = 10_000;

/**
 * The outbound side towards one friend: a PUSH socket connected as a CURVE client. ZeroMQ reconnects
 * by itself after a lost TCP connection; after a failed handshake or any drop the link puts a new
 * socket in place with backoff (link-state.ts says why), so a link always recovers. Reports queue
 * here and leave in signed envelopes of up to MAX_ENTRIES: one at a time when the line is idle (no
 * added latency), in batches under load, so the envelope signature is paid once per batch.
 */
export class FriendLink extends EventEmitter<FriendLinkEvents> {
  readonly #options: FriendLinkOptions;
  #socket: zmq.Push;
  readonly #queue: Slot[] = [];
  /** Queued, not yet sent, by report id: a better copy takes the place of a waiting worse one. */
  readonly #waiting = new Map<string, Slot>();
  readonly #held: Slot[] = [];
  #holdTimer: NodeJS.Timeout | undefined;
  #relinkTimer: NodeJS.Timeout | undefined;
  #relinkFailures = 0;
  #earlyRedialAt: number | undefined;
  /** libzmq's last connection attempt failed and it waits before the next (connect:retry). */
  #backingOff = false;
  #pumping = false;
  #closed = false;
  #dropped = 0;
  #expired = 0;
  #state: LinkState = "connecting";
  /** Our newest sync request to this friend, waiting to be sent: only the newest is worth sending. */
  #syncRequest: Buffer[] | undefined;
  #neverBanList: Buffer[] | undefined;
  /** Pages of our answer to the friend's sync request: sent when no live report waits. */
  readonly #syncPages: Buffer[][] = [];
  /** Reports sent (entries), and messages (envelopes) they went in, since the link was made. */
  sent = 0;
  messagesSent = 0;

  constructor(options: FriendLinkOptions) {
    super();
    this.#options = options;
    this.#socket = this.#newSocket();
  }

  #newSocket(): zmq.Push {
    const options = this.#options;
    const socket = new zmq.Push({
      context: options.context,
      curveServerKey: options.serverKey,
      curvePublicKey: options.curvePublicKey,
      curveSecretKey: options.curveSecretKey,
      ipv6: true,
      // Messages wait in our queue, not in a pipe to a connection that may yet fail its handshake.
      immediate: true,
      sendHighWaterMark: 1000,
      reconnectInterval: options.reconnectIntervalMs ?? RECONNECT_INTERVAL_MS,
      reconnectMaxInterval: options.reconnectIntervalMs ?? RECONNECT_MAX_INTERVAL_MS,
      ...LINK_SOCKET_OPTIONS,
      linger: 2000,
    });
    const on = (event: LinkEvent): void => {
      if (socket === this.#socket && !this.#closed) this.#onEvent(event);
    };
    for (const event of LINK_EVENTS) socket.events.on(event, () => on(event));
    // A connection attempt is under way (TCP connecting, or connected and in its handshake): not
    // waiting out a backoff, so hearing from the friend must not cut it short.
    const attempting = (): void => {
      if (socket === this.#socket) this.#backingOff = false;
    };
    socket.events.on("connect:delay", attempting);
    socket.events.on("connect", attempting);
    return socket;
  }

  #onEvent(event: LinkEvent): void {
    // connect:retry: the attempt failed and libzmq waits out its reconnect interval before the next.
    if (event === "connect:retry") this.#backingOff = true;
    else if (event === "handshake") this.#backingOff = false;
    const before = this.#state;
    const { state, replace } = nextLinkState(before, event);
    if (state !== before) this.#setState(state);
    if (replace) this.#scheduleRelink();
  }

  #setState(state: LinkState): void {
    const { log, endpoint } = this.#options;
    this.#state = state;
    if (state === "connected") {
      this.#relinkFailures = 0;
      log.info("connected", { endpoint });
      this.#wake();
      this.#options.onConnected?.();
    } else {
      log.warn(LINK_STATE_TEXT[state], { endpoint });
    }
    this.emit("state", state);
  }

  /** Closes the socket whose connection failed and dials again on a new one after a backoff. */
  #scheduleRelink(): void {
    if (this.#relinkTimer !== undefined || this.#closed) return;
    const delay = relinkDelay(this.#relinkFailures++, this.#options.relinkFirstDelayMs);
    this.#relinkTimer = setTimeout(() => {
      this.#relinkTimer = undefined;
      this.#replaceSocket();
    }, delay);
  }

  /** A new socket dials the friend now; the old one is closed (nothing waits in it: `immediate`). */
  #replaceSocket(): void {
    if (this.#closed) return;
    const old = this.#socket;
    this.#socket = this.#newSocket();
    this.#backingOff = false;
    old.close();
    this.#socket.connect(this.#options.endpoint);
    if (!this.#pumping) void this.#pump();
  }

  /**
   * The friend was just heard from (an authenticated message of it arrived on our listener): when
   * this link waits out libzmq's reconnect backoff, it dials now (link-state.ts redialsEarly), so a
   * friend that comes back gets our answers and reports at once, not up to
   * RECONNECT_MAX_INTERVAL_MS later. An attempt under way is left alone.
   */
  heardFrom(): void {
    const now = this.#options.now();
    if (this.#closed || this.#relinkTimer !== undefined) return;
    if (!redialsEarly(this.#backingOff, this.#earlyRedialAt, now)) return;
    this.#earlyRedialAt = now;
    this.#options.log.debug("friend heard from while not connected: dialling now", {
      endpoint: this.#options.endpoint,
    });
    this.#replaceSocket();
  }

  start(): void {
    this.#socket.connect(this.#options.endpoint);
  }

  /** True once the CURVE handshake with the friend has succeeded, until the connection drops. */
  get connected(): boolean {
    return this.#state === "connected";
  }

  /** What the link is doing; anything but `connected` says why nothing is delivered. */
  get state(): LinkState {
    return this.#state;
  }

  get queued(): number {
    return this.#queue.length;
  }

  get dropped(): number {
    return this.#dropped;
  }

  /** Queued reports whose lifetime ended before they could leave: not sent (the friend would refuse them). */
  get expired(): number {
    return this.#expired;
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

  /** Queues a sync request (section 13), replacing one not yet sent; it leaves before live reports. */
  sendSyncRequest(frames: Buffer[]): void {
    if (this.#closed) return;
    this.#syncRequest = frames;
    if (!this.#pumping) void this.#pump();
  }

  /**
   * Queues this node's never-ban list for the friend (docs/protocol.md section 18), replacing one not
   * yet sent; it leaves after a waiting sync request and before live reports and sync pages, so the
   * friend judges what follows with it.
   */
  sendNeverBanList(frames: Buffer[]): void {
    if (this.#closed) return;
    this.#neverBanList = frames;
    if (!this.#pumping) void this.#pump();
  }

  /**
   * Queues the pages of an answer to the friend's sync request; `replace` drops pages of an earlier
   * answer still waiting (the friend asked again, so it no longer waits for them). Pages leave only
   * when no live report waits, so a catch-up never delays live reports by more than one page.
   */
  sendSyncPages(pages: readonly Buffer[][], replace = false): void {
    if (this.#closed) return;
    if (replace) this.#syncPages.length = 0;
    this.#syncPages.push(...pages);
    if (!this.#pumping) void this.#pump();
  }

  /** Pages of an answer waiting to be sent. */
  get syncPagesQueued(): number {
    return this.#syncPages.length;
  }

  #releaseHeld(): void {
    this.#holdTimer = undefined;
    for (const slot of this.#held.splice(0)) this.#push(slot);
  }

  #push(slot: Slot): void {
    if (this.#closed) return;
    this.#queue.push(slot);
    const max = this.#options.maxQueued ?? MAX_QUEUED_REPORTS;
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
      while (!this.#closed) {
        if (this.#state !== "connected") {
          // Batches are made when they can leave: a report queued while the friend was away for
          // longer than it lives is dropped then, instead of being sent and refused as expired.
          await this.#untilConnected();
          continue;
        }
        if (this.#syncRequest !== undefined) {
          const request = this.#syncRequest;
          this.#syncRequest = undefined;
          if (!(await this.#sendControl(request))) this.#syncRequest ??= request;
          continue;
        }
        if (this.#neverBanList !== undefined) {
          const list = this.#neverBanList;
          this.#neverBanList = undefined;
          if (!(await this.#sendControl(list))) this.#neverBanList ??= list;
          continue;
        }
        if (this.#queue.length === 0) {
          const page = this.#syncPages.shift();
          if (page === undefined) break;
          if (!(await this.#sendControl(page))) this.#syncPages.unshift(page);
          continue;
        }
        const now = this.#options.now();
        const batch = this.#queue.splice(0, MAX_ENTRIES).filter((slot) => {
          if (slot.item.expiresAt > now) return true;
          // Queued while the friend was away for longer than the report lives: it would be refused.
          this.#forget(slot);
          this.#expired++;
          return false;
        });
        if (batch.length === 0) continue;
        for (const slot of batch) this.#forget(slot);
        const frames = sealEnvelope(
          { from: this.#options.self, to: this.#options.friendKey, entries: batch.map((s) => s.item.entry) },
          batch.map((s) => s.item.report),
          this.#options.signer,
        );
        const socket = this.#socket;
        try {
          await socket.send(frames);
        } catch (err: unknown) {
          if (this.#closed) return;
          if (socket !== this.#socket) {
            // The socket was replaced while this batch waited for a connection: it goes first again.
            this.#queue.unshift(...batch);
            continue;
          }
          throw err;
        }
        this.sent += batch.length;
        this.messagesSent++;
      }
    } catch (err: unknown) {
      if (!this.#closed) this.#options.log.error("send failed", { error: String(err) });
    } finally {
      this.#pumping = false;
    }
  }

  /** Sends one sync message; false when the socket was replaced meanwhile (it goes again). */
  async #sendControl(frames: Buffer[]): Promise<boolean> {
    const socket = this.#socket;
    try {
      await socket.send(frames);
      return true;
    } catch (err: unknown) {
      if (this.#closed || socket !== this.#socket) return false;
      throw err;
    }
  }

  #waiters: (() => void)[] = [];

  /** Resolves at the next change of state to connected, or when the link is closed. */
  #untilConnected(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  #forget(slot: Slot): void {
    if (this.#waiting.get(slot.id) === slot) this.#waiting.delete(slot.id);
  }

  close(): void {
    this.#closed = true;
    this.#wake();
    clearTimeout(this.#holdTimer);
    clearTimeout(this.#relinkTimer);
    this.#socket.close();
  }
}
