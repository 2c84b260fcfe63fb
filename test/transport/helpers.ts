import type * as zmq from "zeromq";
import { freePorts } from "../../src/demo/local-network.js";
import { generateIdentity, type Identity } from "../../src/keys/identity.js";
import { decodeReport, signReport } from "../../src/protocol/report.js";
import { FriendLink } from "../../src/transport/friend-link.js";
import type { LinkState } from "../../src/transport/link-state.js";
import { Listener } from "../../src/transport/listener.js";
import type { ZapPolicy } from "../../src/transport/zap.js";
import { silentLogger } from "../../src/util/logger.js";

export { freePorts };

/** A listener on `endpoint` that admits the CURVE keys in `admitted` and records what it receives. */
export class TestListener {
  readonly identity: Identity;
  readonly admitted = new Set<string>();
  readonly denied: { address: string; key: string }[] = [];
  readonly received: Buffer[][] = [];
  readonly #waiters: (() => void)[] = [];
  readonly listener: Listener;

  constructor(
    context: zmq.Context,
    endpoint: string,
    identity = generateIdentity(),
    policy?: ZapPolicy,
    /** Runs for each message as it arrives, after it is recorded. */
    onEach?: () => void,
  ) {
    this.identity = identity;
    this.listener = new Listener({
      context,
      endpoint,
      curvePublicKey: identity.curvePublicKey,
      curveSecretKey: identity.curveSecretKey,
      zapDomain: `test-${identity.curvePublicKey}`,
      policy: policy ?? {
        admit: (key) => (this.admitted.has(key) ? "friend" : undefined),
        denied: (refusal) => this.denied.push({ address: refusal.address, key: refusal.key ?? "" }),
      },
      log: silentLogger(),
      onMessage: (frames) => {
        this.received.push(frames);
        onEach?.();
        for (const wake of this.#waiters.splice(0)) wake();
      },
    });
  }

  /** Resolves once `count` messages have arrived in all. */
  async messages(count: number): Promise<void> {
    while (this.received.length < count) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** The IPs of the reports received so far, in order. */
  ips(): string[] {
    return this.received.flatMap((frames) =>
      frames.slice(2).flatMap((frame, i) => {
        const report = i % 2 === 0 ? decodeReport(frame) : undefined;
        return report?.ok ? [report.value.ip] : [];
      }),
    );
  }
}

export function linkTo(
  context: zmq.Context,
  endpoint: string,
  server: Identity,
  self = generateIdentity(),
  reconnectMs?: number,
): { link: FriendLink; self: Identity } {
  const link = new FriendLink({
    context,
    endpoint,
    serverKey: server.curvePublicKey,
    curvePublicKey: self.curvePublicKey,
    curveSecretKey: self.curveSecretKey,
    self: self.signingPublicKey,
    friendKey: server.signingPublicKey,
    signer: self.signer,
    log: silentLogger(),
    now: Date.now,
    relinkFirstDelayMs: 20,
    reconnectIntervalMs: reconnectMs,
  });
  return { link, self };
}

/** Resolves when the link reaches `state` (at once if it is there), even if it moves on at once. */
export function linkState(link: FriendLink, state: LinkState): Promise<void> {
  if (link.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const seen = (now: LinkState): void => {
      if (now !== state) return;
      link.off("state", seen);
      resolve();
    };
    link.on("state", seen);
  });
}

/** Queues one report of `ip` signed by `origin`. */
export function enqueueReport(link: FriendLink, origin: Identity, ip: string): void {
  const signed = signReport(
    { ip, time: Date.now(), origin: origin.signingPublicKey, jail: "sshd" },
    origin.signer,
  );
  link.enqueue({
    entry: { id: signed.id, trust: 100, path: [origin.signingPublicKey] },
    report: { bytes: signed.bytes, signature: signed.signature },
    expiresAt: signed.report.time + 86_400_000,
  });
}
