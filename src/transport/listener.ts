import * as zmq from "zeromq";
import { MAX_FRAME_BYTES } from "../protocol/constants.js";
import type { Logger } from "../util/logger.js";
import { HANDSHAKE_INTERVAL_MS, LINK_SOCKET_OPTIONS, RECEIVE_HWM } from "./socket-options.js";
import { ZapAuthenticator, type ZapPolicy } from "./zap.js";

export interface ListenerOptions {
  readonly context: zmq.Context;
  readonly endpoint: string;
  readonly curvePublicKey: string;
  readonly curveSecretKey: string;
  readonly zapDomain: string;
  readonly policy: ZapPolicy;
  readonly log: Logger;
  /** Called after libzmq closed or failed a connection (the peer is not known here). */
  readonly onConnectionEnded?: () => void;
  /**
   * Handles one message; must not throw for anything a peer can send. `more`: the socket holds more
   * messages already. The next message is read once a returned promise resolves.
   */
  readonly onMessage: (frames: Buffer[], more: boolean) => void | Promise<void>;
}

/**
 * libzmq checks ZMQ_MAXMSGSIZE against the frame as it travels, CURVE's box and command header
 * included (33 bytes in libzmq 4.3); 256 leaves room for that with a margin.
 */
export const CURVE_OVERHEAD_BYTES = 256;
/** The listener's ZMQ_MAXMSGSIZE: 35,268 bytes (docs/protocol.md section 2.1). */
export const MAX_WIRE_FRAME_BYTES = MAX_FRAME_BYTES + CURVE_OVERHEAD_BYTES;

/**
 * Longest the receive loop takes in messages back to back before it lets the rest of the event loop
 * run: the commit of the messages taken in (and so their bans and forwarding), timers, the control
 * socket (fail2ban's `report`). zeromq.js resolves a receive at once while messages wait, so under a
 * flood the loop would otherwise never yield (docs/performance.md, "flood").
 */
export const RECEIVE_TURN_MS = 2;

/**
 * The node's inbound side: a PULL socket bound as a CURVE server. ZAP admits only friends' CURVE keys;
 * libzmq drops any frame over MAX_WIRE_FRAME_BYTES and disconnects the peer that sent it.
 * docs/security.md says what this bounds and what it does not (the frame count of a message).
 */
export class Listener {
  readonly #options: ListenerOptions;
  readonly #socket: zmq.Pull;
  #loop: Promise<void> | undefined;
  #zap: ZapAuthenticator | undefined;

  constructor(options: ListenerOptions) {
    this.#options = options;
    this.#socket = new zmq.Pull({
      context: options.context,
      curveServer: true,
      curvePublicKey: options.curvePublicKey,
      curveSecretKey: options.curveSecretKey,
      zapDomain: options.zapDomain,
      // Binds and accepts IPv6 as well as IPv4 (without it libzmq refuses an IPv6 endpoint).
      ipv6: true,
      ...LINK_SOCKET_OPTIONS,
      maxMessageSize: MAX_WIRE_FRAME_BYTES,
      receiveHighWaterMark: RECEIVE_HWM,
      // A connection that has not completed its CURVE handshake by then is closed.
      handshakeInterval: HANDSHAKE_INTERVAL_MS,
      linger: 0,
    });
  }

  async start(): Promise<void> {
    this.#zap = await ZapAuthenticator.forContext(this.#options.context);
    this.#zap.register(this.#options.zapDomain, this.#options.policy);
    for (const event of ["disconnect", "handshake:error:protocol", "handshake:error:other"] as const)
      this.#socket.events.on(event, () => this.#options.onConnectionEnded?.());
    await this.#socket.bind(this.#options.endpoint);
    this.#loop = this.#receive();
  }

  /**
   * The endpoint actually bound (resolves a port of 0 or *). An IPv4 address bound on the dual-stack
   * socket reads back as IPv4-mapped (`tcp://[::ffff:127.0.0.1]:7711`): shown as written, IPv4.
   */
  get endpoint(): string {
    return unmapEndpoint(this.#socket.lastEndpoint ?? this.#options.endpoint);
  }

  /**
   * Receives until the socket is closed. zeromq.js now and then rejects a receive with EAGAIN when a
   * burst of CURVE traffic made the socket look readable with nothing to read; that is not an end,
   * so the loop goes on (iterating with `for await` would stop for good on the first one).
   */
  async #receive(): Promise<void> {
    let failuresInARow = 0;
    let turnStarted = performance.now();
    while (!this.#socket.closed) {
      if (performance.now() - turnStarted >= RECEIVE_TURN_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        turnStarted = performance.now();
      }
      let frames: Buffer[];
      try {
        frames = await this.#socket.receive();
        failuresInARow = 0;
      } catch (err: unknown) {
        if (this.#socket.closed) return;
        if ((err as { code?: string }).code !== "EAGAIN") {
          this.#options.log.error("receive failed", { error: String(err) });
        }
        // Yield to the event loop so a persistent failure cannot spin; back off a little if it repeats.
        await new Promise((resolve) => setTimeout(resolve, Math.min(++failuresInARow, 100)));
        continue;
      }
      try {
        await this.#options.onMessage(frames, this.#socket.readable);
      } catch (err: unknown) {
        this.#options.log.error("bug: message handler threw", { error: String(err) });
      }
    }
  }

  async stop(): Promise<void> {
    this.#socket.close();
    await this.#loop;
    await this.#zap?.unregister(this.#options.zapDomain);
  }
}

/** `tcp://[::ffff:a.b.c.d]:PORT` → `tcp://a.b.c.d:PORT`; any other endpoint unchanged. */
export function unmapEndpoint(endpoint: string): string {
  return endpoint.replace(/^tcp:\/\/\[::ffff:(\d{1,3}(?:\.\d{1,3}){3})\]:/i, "tcp://$1:");
}
