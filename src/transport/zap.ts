import * as zmq from "zeromq";
import { z85Encode } from "./z85.js";

/** IPv4-mapped IPv6 (`::ffff:192.0.2.1`, how a dual-stack socket names IPv4 peers) as plain IPv4. */
export function unmapIPv4(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return (mapped?.[1] ?? address).toLowerCase();
}

/** A refused handshake as the ZAP request describes it. */
export interface ZapRefusal {
  /** The peer's IP address: the ZAP request is the only place libzmq gives it. */
  readonly address: string;
  readonly reason: "unknown-key" | "bad-mechanism";
  /** The client's CURVE long-term public key (Z85), when it sent one. */
  readonly key?: string;
}

/** Decides whether a CURVE client key (Z85) may connect to the node that owns a ZAP domain. */
export interface ZapPolicy {
  /** Returns the friend's name when admitted, undefined to refuse; `address` is the peer's IP. */
  admit(curveKey: string, address?: string): string | undefined;
  /** Called for every refused handshake, each attempt once. */
  denied(refusal: ZapRefusal): void;
}

/**
 * One ZAP handler (RFC 27) per ZeroMQ context, bound at inproc://zeromq.zap.01. Several nodes may
 * share a context (the demo and the network benchmark do): each registers a policy under its own ZAP
 * domain. Without a handler a CURVE server would admit anyone who knows its public key.
 */
export class ZapAuthenticator {
  static readonly #registry = new Map<zmq.Context, ZapAuthenticator>();
  readonly #policies = new Map<string, ZapPolicy>();
  readonly #socket: zmq.Reply;
  #running: Promise<void> | undefined;

  private constructor(context: zmq.Context) {
    this.#socket = new zmq.Reply({ context, linger: 0 });
  }

  static async forContext(context: zmq.Context): Promise<ZapAuthenticator> {
    let zap = ZapAuthenticator.#registry.get(context);
    if (zap === undefined) {
      zap = new ZapAuthenticator(context);
      ZapAuthenticator.#registry.set(context, zap);
      await zap.#socket.bind("inproc://zeromq.zap.01");
      zap.#running = zap.#serve();
    }
    return zap;
  }

  register(domain: string, policy: ZapPolicy): void {
    this.#policies.set(domain, policy);
  }

  /** The last node to leave closes the handler, so a context with no nodes holds nothing open. */
  async unregister(domain: string): Promise<void> {
    this.#policies.delete(domain);
    if (this.#policies.size > 0) return;
    for (const [context, zap] of ZapAuthenticator.#registry)
      if (zap === this) ZapAuthenticator.#registry.delete(context);
    this.#socket.close();
    await this.#running;
  }

  async #serve(): Promise<void> {
    try {
      for await (const request of this.#socket) await this.#socket.send(this.#answer(request));
    } catch {
      // The socket closes with its context at exit; nothing is left to answer.
    }
  }

  /** Request frames: version, request id, domain, address, identity, mechanism, credentials… */
  #answer(request: Buffer[]): (Buffer | string)[] {
    const [version, requestId, domain, address, , mechanism, credential] = request;
    const reply = (status: string, text: string, userId = ""): (Buffer | string)[] => [
      version ?? "1.0",
      requestId ?? "",
      status,
      text,
      userId,
      "",
    ];
    if (version?.toString() !== "1.0") return reply("500", "unsupported ZAP version");
    const policy = this.#policies.get(domain?.toString() ?? "");
    if (policy === undefined) return reply("400", "not allowed");
    const peer = unmapIPv4(address?.toString() ?? "");
    if (mechanism?.toString() !== "CURVE" || credential?.length !== 32) {
      policy.denied({ address: peer, reason: "bad-mechanism" });
      return reply("400", "not allowed");
    }
    const key = z85Encode(credential);
    const name = policy.admit(key, peer);
    if (name === undefined) {
      policy.denied({ address: peer, reason: "unknown-key", key });
      return reply("400", "unknown key");
    }
    return reply("200", "OK", name);
  }
}
