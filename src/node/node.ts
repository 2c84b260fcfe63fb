import dns from "node:dns/promises";
import { EventEmitter } from "node:events";
import * as zmq from "zeromq";
import { parseEndpointHost } from "../config/load.js";
import type { FriendConfig, NodeConfig } from "../config/types.js";
import { AuthLog } from "../fail2ban/auth-log.js";
import { type Identity, shortId } from "../keys/identity.js";
import { claimOf, FriendRateLimit } from "../limits/rate-limit.js";
import { JAIL_NAME_PATTERN } from "../protocol/constants.js";
import { openMessage } from "../protocol/envelope.js";
import { parseIp } from "../protocol/ip.js";
import type { RejectCode } from "../protocol/rejections.js";
import { type SignedReport, signReport } from "../protocol/report.js";
import { Journal } from "../state/journal.js";
import { Ledger, type Outcome } from "../state/ledger.js";
import { FriendLink } from "../transport/friend-link.js";
import { Listener } from "../transport/listener.js";
import { forwardTargets, OWN_TRUST, relayedTrust, VIA_SELF } from "../trust/rules.js";
import type { Logger } from "../util/logger.js";
import { BansLog } from "./bans-log.js";
import { checkEntry } from "./check-entry.js";
import { NeverBan } from "./never-ban.js";

/** Clock, logger and ZeroMQ context come from outside so tests and the demo can share or fake them. */
export interface NodeComponents {
  readonly now: () => number;
  readonly log: Logger;
  readonly context: zmq.Context;
}

/** A friend as the running node sees it. */
export interface Friend {
  readonly config: FriendConfig;
  readonly signingKey: Buffer;
  /** Signing key as lower-case hex: the `via` of its contributions and the forwarding key. */
  readonly key: string;
  readonly link: FriendLink;
  /** Messages and reports from this friend refused, by reason: a misbehaving friend shows here. */
  readonly rejected: Partial<Record<RejectCode, number>>;
}

export type LocalReportResult =
  | { readonly status: "accepted" | "duplicate"; readonly score: number; readonly banned: boolean }
  | { readonly status: "ignored"; readonly reason: string }
  | { readonly status: "invalid-ip" }
  | { readonly status: "invalid-jail" };

export interface NodeStats {
  messages: number;
  accepted: number;
  noGain: number;
  bans: number;
  localReports: number;
  rejected: Partial<Record<RejectCode, number>>;
}

export interface NodeEvents {
  "report:accepted": [{ ip: string; origin: string; trust: number; score: number; hops: number }];
  "report:rejected": [{ code: RejectCode; friend: string | undefined }];
  ban: [{ ip: string; score: number; origin: string; hops: number }];
}

const EXPIRE_EVERY_MS = 60_000;
/** How far before a detected disconnect a resend reaches back: the drop is noticed late. */
const RESEND_SLACK_MS = 10_000;
/**
 * Improved copies wait this long before they travel on: a first copy goes at once, but when better
 * paths keep arriving, the improvements of one report leave together as the best one.
 */
const IMPROVEMENT_HOLD_MS = 3;
/** Below this many appended records the journal is never rewritten while running. */
const JOURNAL_COMPACT_MIN = 10_000;

/**
 * A running f2bp2p node: verifies what friends send, keeps the ledger, writes the bans log and passes
 * reports on. The trust rules and checks it applies live in pure modules; this class wires them to I/O.
 */
export class F2bNode extends EventEmitter<NodeEvents> {
  readonly config: NodeConfig;
  readonly identity: Identity;
  readonly id: string;
  readonly stats: NodeStats = { messages: 0, accepted: 0, noGain: 0, bans: 0, localReports: 0, rejected: {} };
  readonly #c: NodeComponents;
  readonly #friends: Friend[];
  readonly #friendsByKey = new Map<string, Friend>();
  readonly #ledger: Ledger;
  readonly #bansLog: BansLog;
  readonly #journal: Journal;
  readonly #neverBan: NeverBan;
  readonly #listener: Listener;
  readonly #authLog: AuthLog;
  readonly #rateLimit: FriendRateLimit;
  /** Our own live reports by IP, so fail2ban calling twice does not start a second wave. */
  readonly #ownReports = new Map<string, SignedReport>();
  #expireTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #sweeping = false;

  constructor(
    config: NodeConfig,
    friends: readonly FriendConfig[],
    identity: Identity,
    components: NodeComponents,
  ) {
    super();
    this.config = config;
    this.identity = identity;
    this.id = shortId(identity.signingPublicKey);
    this.#c = components;
    this.#friends = friends.map((f) => this.#makeFriend(f));
    for (const f of this.#friends) this.#friendsByKey.set(f.key, f);
    this.#ledger = new Ledger({
      lifetimeMs: config.reportLifetimeSeconds * 1000,
      threshold: config.threshold,
      trustOfVia: (via) => this.#friendsByKey.get(via)?.config.trust ?? 0,
      maxReportsPerFriend: config.maxReportsPerFriend,
    });
    this.#bansLog = new BansLog(config.bansLog);
    this.#journal = new Journal(config.stateDir);
    this.#neverBan = new NeverBan(config.ignore);
    this.#rateLimit = new FriendRateLimit(
      { reportsPerSecond: config.friendReportsPerSecond, burst: config.friendBurst },
      this.#friends.map((f) => f.key),
      components.now(),
    );
    this.#authLog = new AuthLog(config.authLog, components.log.child({ component: "auth" }), components.now);
    const curveKeys = new Map(this.#friends.map((f) => [f.config.curveKey, f.config.name]));
    this.#listener = new Listener({
      context: components.context,
      endpoint: config.listen,
      curvePublicKey: identity.curvePublicKey,
      curveSecretKey: identity.curveSecretKey,
      zapDomain: `f2bp2p-${this.id}`,
      policy: this.#authLog.policy((key) => curveKeys.get(key)),
      onConnectionEnded: () => this.#authLog.connectionClosed(),
      log: components.log.child({ component: "listener" }),
      onMessage: (frames) => this.handleMessage(frames),
    });
  }

  #makeFriend(config: FriendConfig): Friend {
    const signingKey = Buffer.from(config.signingKey);
    const link = new FriendLink({
      context: this.#c.context,
      endpoint: config.endpoint,
      serverKey: config.curveKey,
      curvePublicKey: this.identity.curvePublicKey,
      curveSecretKey: this.identity.curveSecretKey,
      self: this.identity.signingPublicKey,
      friendKey: signingKey,
      signer: this.identity.signer,
      log: this.#c.log.child({ component: `friend:${config.name}` }),
      now: this.#c.now,
      onReconnect: (downSince) => this.#resend(friend, downSince - RESEND_SLACK_MS),
    });
    const friend: Friend = { config, signingKey, key: signingKey.toString("hex"), link, rejected: {} };
    return friend;
  }

  get friends(): readonly Friend[] {
    return this.#friends;
  }

  get endpoint(): string {
    return this.#listener.endpoint;
  }

  get ledger(): Ledger {
    return this.#ledger;
  }

  async start(): Promise<void> {
    if (!zmq.capability.curve)
      throw new Error("this ZeroMQ build has no CURVE support; refusing to run unencrypted");
    this.#bansLog.open();
    this.#restore();
    await this.#protectFriendAddresses();
    await this.#authLog.start(
      this.#friends.map((f) => ({ name: f.config.name, host: parseEndpointHost(f.config.endpoint) })),
    );
    try {
      await this.#listener.start();
    } catch (err: unknown) {
      await this.stop();
      throw new Error(
        `cannot listen on ${this.config.listen}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    this.#authLog.watchClosed(
      Number(this.#listener.endpoint.slice(this.#listener.endpoint.lastIndexOf(":") + 1)),
    );
    for (const f of this.#friends) f.link.start();
    this.#expireTimer = setInterval(() => this.#expire(), EXPIRE_EVERY_MS);
    this.#expireTimer.unref();
    this.#c.log.info("node started", {
      id: this.id,
      listen: this.#listener.endpoint,
      friends: this.#friends.length,
      threshold: this.config.threshold,
    });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#expireTimer);
    for (const f of this.#friends) f.link.close();
    await this.#listener.stop();
    this.#bansLog.close();
    this.#authLog.close();
    this.#journal.close();
    this.#c.log.info("node stopped", { id: this.id });
  }

  /** logrotate moved the bans log away: start a new file at the configured path. */
  reopenBansLog(): void {
    this.#bansLog.reopen();
    this.#authLog.reopen();
    this.#c.log.info("bans log reopened", { file: this.#bansLog.file });
  }

  /** A ban from this host's own fail2ban: sign it, count it in full, send it to every friend. */
  reportLocal(ipText: string, jail: string): LocalReportResult {
    const ip = parseIp(ipText);
    if (ip === null) return { status: "invalid-ip" };
    if (jail !== "" && !JAIL_NAME_PATTERN.test(jail)) return { status: "invalid-jail" };
    if (this.#neverBan.has(ip.text)) {
      this.#c.log.warn("not reporting an address on the never-ban list", { ip: ip.text, jail });
      return { status: "ignored", reason: "on the never-ban list (ignore, loopback, own or friend address)" };
    }
    const now = this.#c.now();
    const previous = this.#ownReports.get(ip.text);
    if (previous !== undefined && now - previous.report.time < this.config.reportLifetimeSeconds * 1000) {
      return {
        status: "duplicate",
        score: this.#ledger.score(ip.text),
        banned: this.#ledger.isBanned(ip.text),
      };
    }
    const signed = signReport(
      { ip: ip.text, time: now, origin: this.identity.signingPublicKey, jail },
      this.identity.signer,
    );
    this.#ownReports.set(ip.text, signed);
    this.stats.localReports++;
    const outcome = this.#ledger.apply({ signed, trust: OWN_TRUST, via: VIA_SELF, path: [], at: now });
    if (outcome.kind !== "over-quota") this.#afterAccept(outcome, signed, undefined);
    this.#journal.flush();
    return { status: "accepted", score: this.#ledger.score(ip.text), banned: this.#ledger.isBanned(ip.text) };
  }

  /** One message from the listener. Everything in it is hostile until checked; nothing here throws. */
  handleMessage(frames: Buffer[]): void {
    this.stats.messages++;
    const claim = claimOf(frames);
    if (!this.#rateLimit.admits(claim, this.#c.now())) {
      this.#rejected("rate-limited", this.#friendsByKey.get(claim.sender ?? ""));
      return;
    }
    const opened = openMessage(frames, {
      self: this.identity.signingPublicKey,
      friendBySigningKey: (key) => this.#friendsByKey.get(key.toString("hex")),
    });
    if (!opened.ok) {
      this.#rejected(opened.code, undefined);
      return;
    }
    const { envelope, hop, reports } = opened.value;
    const now = this.#c.now();
    this.#rateLimit.charge(hop.key, claim.cost, now);
    const ctx = {
      self: this.identity.signingPublicKey,
      hop: hop.signingKey,
      now,
      lifetimeMs: this.config.reportLifetimeSeconds * 1000,
      maxHops: this.config.maxHops,
      known: (id: Buffer) => this.#ledger.known(id)?.signed,
    };
    envelope.entries.forEach((entry, i) => {
      const checked = checkEntry(entry, reports[i]!, ctx);
      if (!checked.ok) {
        this.#rejected(checked.code, hop);
        return;
      }
      const trust = relayedTrust(entry.trust, hop.config.trust);
      const outcome = this.#ledger.apply({
        signed: checked.value,
        trust,
        via: hop.key,
        // Copies: the keys are views into the received frame, which must not stay alive with the report.
        path: entry.path.map((key) => Buffer.from(key)),
        at: now,
      });
      if (outcome.kind === "over-quota") this.#rejected("over-quota", hop);
      else this.#afterAccept(outcome, checked.value, hop);
    });
    this.#journal.flush();
  }

  #afterAccept(
    outcome: Exclude<Outcome, { kind: "over-quota" }>,
    signed: SignedReport,
    from: Friend | undefined,
  ): void {
    if (outcome.kind === "no-gain") {
      this.stats.noGain++;
      return;
    }
    this.stats.accepted++;
    const { known, copy, score } = outcome;
    const { ip } = signed.report;
    const origin = shortId(signed.report.origin);
    const hops = known.path.length;
    this.emit("report:accepted", { ip, origin, trust: known.trust, score, hops });
    // The ban line goes first: after a crash between the two, a re-sent report writes it again,
    // whereas a journaled report whose line was lost would never be banned.
    if (outcome.banNow) this.#ban(ip, score, origin, hops);
    this.#journal.append(copy);
    this.#forward(signed, copy.trust, copy.path, from?.key, outcome.improved ? IMPROVEMENT_HOLD_MS : 0);
  }

  #ban(ip: string, score: number, origin: string, hops: number): void {
    if (this.#neverBan.has(ip)) {
      this.#c.log.info("score reached threshold but address is on the never-ban list", { ip, score });
      return;
    }
    this.#bansLog.write({ at: new Date(this.#c.now()), ip, score, origin, hops });
    this.stats.bans++;
    this.#c.log.info("ban", { ip, score, origin, hops });
    this.emit("ban", { ip, score, origin, hops });
  }

  /**
   * Passes one copy of a report on by the forwarding rules, to every friend or only to `candidates`;
   * returns how many friends it went to. `fromKey` is the friend it came through (none for our own).
   */
  #forward(
    signed: SignedReport,
    trust: number,
    path: readonly Buffer[],
    fromKey: string | undefined,
    holdMs: number,
    candidates: readonly Friend[] = this.#friends,
  ): number {
    const pathKeys = new Set(path.map((k) => k.toString("hex")));
    const targets = forwardTargets(candidates, pathKeys, path.length, trust, this.config.maxHops, fromKey);
    if (targets.length === 0) return 0;
    const forwardPath = [...path, this.identity.signingPublicKey];
    const report = { bytes: signed.bytes, signature: signed.signature };
    for (const friend of targets) {
      friend.link.enqueue({ entry: { id: signed.id, trust, path: forwardPath }, report }, holdMs);
    }
    return targets.length;
  }

  /** Sends a friend that came back what it may have missed, by the usual forwarding rules. */
  #resend(friend: Friend, since: number): void {
    let count = 0;
    for (const known of this.#ledger.acceptedSince(since)) {
      const fromKey = known.via === VIA_SELF ? undefined : known.via;
      count += this.#forward(known.signed, known.trust, known.path, fromKey, 0, [friend]);
    }
    if (count > 0) {
      this.#c.log.info("resent to reconnected friend", { friend: friend.config.name, reports: count });
    }
  }

  #rejected(code: RejectCode, friend: Friend | undefined): void {
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1;
    if (friend !== undefined) friend.rejected[code] = (friend.rejected[code] ?? 0) + 1;
    this.#c.log.debug("rejected", { code, friend: friend?.config.name ?? "?" });
    this.emit("report:rejected", { code, friend: friend?.config.name });
  }

  /**
   * Rebuilds the ledger from the journal of the last run. Bans it held were written then, so replaying
   * marks them banned without writing them again; expired reports are dropped and the journal compacted.
   */
  #restore(): void {
    const now = this.#c.now();
    const lifetimeMs = this.config.reportLifetimeSeconds * 1000;
    let restored = 0;
    for (const arrival of this.#journal.read()) {
      if (now - arrival.signed.report.time >= lifetimeMs) continue;
      this.#ledger.apply(arrival); // refused only if max_reports_per_friend was lowered since
      if (arrival.via === VIA_SELF) this.#ownReports.set(arrival.signed.report.ip, arrival.signed);
      restored++;
    }
    this.#journal.open(this.#ledger.live());
    if (restored > 0) {
      this.#c.log.info("state restored", { reports: this.#ledger.reportCount, ips: this.#ledger.ipCount });
    }
  }

  /** The once-a-minute sweep, run in steps between messages; compaction waits for its end. */
  #expire(): void {
    if (this.#sweeping) return;
    this.#sweeping = true;
    const now = this.#c.now();
    const sweep = this.#ledger.expireInSteps(now);
    const step = (): void => {
      if (this.#stopped) return;
      if (!sweep.next().done) {
        setImmediate(step);
        return;
      }
      this.#sweeping = false;
      this.#afterSweep(now);
    };
    step();
  }

  #afterSweep(now: number): void {
    this.#compactJournalIfGrown();
    const lifetimeMs = this.config.reportLifetimeSeconds * 1000;
    for (const [ip, signed] of this.#ownReports)
      if (now - signed.report.time >= lifetimeMs) this.#ownReports.delete(ip);
  }

  /** Rewrites the journal with the live reports once it holds more appended records than those. */
  #compactJournalIfGrown(): void {
    if (this.#journal.appendedSinceRewrite <= Math.max(JOURNAL_COMPACT_MIN, this.#ledger.reportCount)) return;
    this.#journal.open(this.#ledger.live());
    this.#c.log.info("journal compacted", { reports: this.#ledger.reportCount });
  }

  /** Friends' own addresses are never banned: losing the link to a friend is worse than any attacker. */
  async #protectFriendAddresses(): Promise<void> {
    for (const f of this.#friends) {
      const host = parseEndpointHost(f.config.endpoint);
      if (parseIp(host) !== null) {
        this.#neverBan.add(host);
        continue;
      }
      try {
        for (const { address } of await dns.lookup(host, { all: true })) this.#neverBan.add(address);
      } catch {
        this.#c.log.warn("cannot resolve friend's host; its address is not protected from bans", { host });
      }
    }
  }
}
