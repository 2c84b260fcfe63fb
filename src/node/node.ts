import dns from "node:dns/promises";
import { EventEmitter } from "node:events";
import * as zmq from "zeromq";
import { ClockSkew } from "../clock/skew.js";
import { parseEndpointHost } from "../config/load.js";
import type { FriendConfig, NodeConfig } from "../config/types.js";
import { AuthLog } from "../fail2ban/auth-log.js";
import { type Identity, shortId } from "../keys/identity.js";
import { claimOf, FriendRateLimit, TokenBucket } from "../limits/rate-limit.js";
import { checkEntry, checkStoredReport } from "../protocol/check-entry.js";
import {
  KIND_ENVELOPE,
  KIND_NEVER_BAN_LIST,
  KIND_SYNC_PAGE,
  KIND_SYNC_REQUEST,
  MAX_FRAMES,
  MAX_NEVER_BAN_LIST_LIFETIME_MS,
  NEVER_BAN_LIST_SIGNING_TAG,
  PROTOCOL_VERSION,
  REVOCATION_REASON_PATTERN,
} from "../protocol/constants.js";
import { type OpenedMessage as Opened, openMessage } from "../protocol/envelope.js";
import { type IpRange, parseIp } from "../protocol/ip.js";
import { jailLabel } from "../protocol/jail.js";
import { decodeNeverBanList, openNeverBanList, sealNeverBanList } from "../protocol/never-ban-list.js";
import type { RejectCode } from "../protocol/rejections.js";
import { type SignedReport, signReport } from "../protocol/report.js";
import { signRevocation } from "../protocol/revocation.js";
import { verifyTagged } from "../protocol/signing.js";
import { type OpenedSyncPage, openSyncPage, openSyncRequest } from "../protocol/sync.js";
import { VerifiedSignatures } from "../protocol/verified-signatures.js";
import { Ledger, type Outcome } from "../state/ledger.js";
import { type NodeState, openNodeState } from "../state/open.js";
import {
  type BanRecord,
  type StateStore,
  StoreDamagedError,
  type StoredContribution,
  type StoredReport,
  StoreWriteError,
} from "../state/store.js";
import { FriendLink } from "../transport/friend-link.js";
import { Listener } from "../transport/listener.js";
import { forwardTargets, OWN_TRUST, relayedTrust, VIA_SELF } from "../trust/rules.js";
import type { Logger } from "../util/logger.js";
import { formatBanLine, formatUnbanLine, LIFT_REASON, type LiftReason } from "./ban-line.js";
import { BansLog, BansLogError } from "./bans-log.js";
import { CatchUp, type SyncStatus } from "./catch-up.js";
import { FriendNeverBanLists, isShielded } from "./friend-never-ban.js";
import {
  creditBan,
  creditConfirmations,
  type FriendWorthReport,
  friendWorth,
  RejectionTally,
} from "./friend-worth.js";
import { type ImportSource, importKey, importSourceOf, staysHere } from "./import-source.js";
import { importJournal } from "./journal-migration.js";
import { LiveBacklog } from "./live-backlog.js";
import { NeverBan } from "./never-ban.js";
import { reconcilePendingBans, reconcilePendingLifts } from "./pending-bans.js";
import { PendingMessages } from "./pending-messages.js";
import { type FriendPlan, planFriends } from "./reload.js";
import { sameRanges, sharedNeverBan } from "./shared-never-ban.js";
import { type Verdicts, VerifyPool } from "./verify-pool.js";

/** Clock, logger, ZeroMQ context and store come from outside so tests and the demo can share or fake them. */
export interface NodeComponents {
  readonly now: () => number;
  readonly log: Logger;
  readonly context: zmq.Context;
  /**
   * The state store; `f2bp2p run` opens it (after taking the state dir's lock) before anything else.
   * Without one, start() opens `state_dir` itself the same way and closes it at stop().
   */
  readonly store?: StateStore;
  /** Reports queued per friend link while the friend is away (FriendLink MAX_QUEUED_REPORTS unless set). */
  readonly linkQueue?: number;
  /** A fixed reconnect interval of friend links, ms (FriendLinkOptions.reconnectIntervalMs; tests). */
  readonly linkReconnectMs?: number;
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
  | {
      readonly status: "accepted" | "duplicate";
      readonly score: number;
      /** True once the IP's line is in the bans log. */
      readonly banned: boolean;
      /** Set when the score reached the threshold but the line could not be written yet: why. */
      readonly banPending?: string;
    }
  | { readonly status: "ignored"; readonly reason: string }
  | { readonly status: "invalid-ip" }
  /** The report could not be committed to the store (nothing of it was kept): why. */
  | { readonly status: "store-failed"; readonly message: string }
  /** The given time is in the future or older than the report lifetime: why (also logged). */
  | { readonly status: "invalid-time"; readonly reason: string };

/** What revokeLocal did. */
export type RevokeResult =
  | {
      /** Signed, committed and sent; the score and ban state here after it. */
      readonly status: "revoked";
      readonly score: number;
      readonly banned: boolean;
    }
  /** This node holds no live report of its own of the address: nothing to revoke. */
  | { readonly status: "not-reported" }
  | { readonly status: "invalid-ip" }
  /** The reason is not 0-64 printable ASCII characters. */
  | { readonly status: "invalid-reason" }
  | { readonly status: "store-failed"; readonly message: string };

/** What `importReports` did with each report, by outcome. */
export type ImportResult =
  | {
      readonly status: "imported";
      readonly accepted: number;
      /** Held already with at least as good a copy, or revoked by its origin: nothing changed. */
      readonly known: number;
      /** Signed by this node itself: it holds its own reports already. */
      readonly own: number;
      readonly expired: number;
      /** Over max_reports_per_friend for the import pseudo-friend. */
      readonly overQuota: number;
      /** Failed the re-check (cannot happen after the CLI's verification, unless sent by hand). */
      readonly invalid: number;
    }
  | { readonly status: "store-failed"; readonly message: string };

/** What liftBan did. */
export type LiftResult =
  /** The UNBAN line is in the bans log. */
  | { readonly status: "lifted" }
  /** The ban had never been written: it is now withheld, no line was needed. */
  | { readonly status: "withheld" }
  /** Recorded, but the UNBAN line could not be written yet (why); the node retries until it is. */
  | { readonly status: "pending"; readonly reason: string }
  /** No ban of this address is in force here. */
  | { readonly status: "not-banned" }
  | { readonly status: "invalid-ip" }
  | { readonly status: "store-failed"; readonly message: string };

export interface NodeStats {
  messages: number;
  accepted: number;
  /** Copies from live envelopes that brought nothing new (a report already held as well). */
  noGain: number;
  /** Reports taken in from friends' sync pages, and how many of them were already held. */
  syncReports: number;
  syncNoGain: number;
  bans: number;
  localReports: number;
  rejected: Partial<Record<RejectCode, number>>;
  /** Writes the store refused (disk full, I/O error); the messages wait in memory and are retried. */
  storeErrors: number;
  /** Bans log writes that failed; the bans stay pending in the store and are retried. */
  bansLogErrors: number;
  /** Stored reports that failed their re-check (damage on disk): set aside, never sent. */
  setAside: number;
  /** UNBAN lines written (bans lifted: liftBan). */
  unbans: number;
  /** Revocations accepted (new or better copies), this node's own included. */
  revocations: number;
  /**
   * Local bans of an address this node had banned because of its friends' reports (another jail
   * banning it again, e.g. recidive): not reported as this node's own, so a ban never echoes back.
   */
  echoesStopped: number;
  /** Live messages taken in after their signatures were checked ahead on other threads (a backlog). */
  checkedAhead: number;
}

export interface NodeEvents {
  "report:accepted": [{ ip: string; origin: string; trust: number; score: number; hops: number }];
  "report:rejected": [{ code: RejectCode; friend: string | undefined }];
  ban: [{ ip: string; score: number; origin: string; hops: number }];
  /** A friend's message passed its checks and its reports are applied (not yet committed): for metrics. */
  "message:ingested": [{ friend: string; reports: number; seconds: number }];
  /** A catch-up sync request (reports 0) or page from a friend passed its checks. */
  "sync:message": [{ friend: string; kind: "request" | "page"; reports: number }];
  unban: [{ ip: string; reason: LiftReason }];
  /** A revocation was accepted here (first copy): its origin withdrew its reports of `ip`. */
  "revocation:accepted": [{ ip: string; origin: string; score: number }];
  /** A never-ban list from this friend passed its signature check (taken or not). */
  "never-ban-list:message": [{ friend: string }];
  /** A friend's never-ban list was taken (`changed`: other ranges than the one held, or the first). */
  "never-ban-list": [{ friend: string; ranges: string[]; changed: boolean }];
  /**
   * An address this node reported itself is now on the never-ban list (ignore changed): its ban here
   * is lifted and the report revoked (#revokeOwnReportOf), so friends stop counting it.
   */
  "own-report:never-ban": [{ ip: string; reason: LiftReason; revoked: RevokeResult["status"] }];
}

type OpenedMessage = Opened<Friend>;

/** What a copy accepted inside a store transaction causes once the transaction is committed. */
interface Accepted {
  readonly outcome: Extract<Outcome, { kind: "accepted" }>;
  readonly signed: SignedReport;
  readonly from: Friend | undefined;
  /** The ban decided with it, if its score reached the threshold. */
  readonly ban: BanRecord | undefined;
}

const EXPIRE_EVERY_MS = 60_000;
/** The lift reason of a ban whose score a revocation took below the threshold. */
const REVOKED: LiftReason = "revoked";
/** The lift reason of a ban a friend's never-ban list now holds back (docs/protocol.md section 18). */
const FRIEND_NEVER_BAN: LiftReason = "friend-never-ban";
/**
 * Changed never-ban lists taken from one friend: each change makes the node look at its bans again,
 * so a friend cannot keep it doing that (a list re-sent unchanged costs nothing and is not counted).
 */
const LIST_CHANGES = { reportsPerSecond: 1, burst: 5 } as const;
/**
 * Never-ban list messages taken from one friend, changed or not: checked before the signature and
 * charged after it, like reports (FriendRateLimit). A friend sends one per answer to our sync
 * requests, and those are at most 10 a second, so this never refuses a correct friend.
 */
const LIST_MESSAGES = { reportsPerSecond: 10, burst: 20 } as const;
/** A list re-sent unchanged is written to the store again only when it extends the expiry by this much. */
const LIST_REFRESH_WRITE_MS = 3600_000;
/** Longest a written ban line waits for its "written" mark to be committed when nothing else is. */
const MARK_FLUSH_MS = 500;
/** While writes are failing, how often the node tries again what is pending. */
const RETRY_EVERY_MS = 2_000;
/**
 * Reports of a sync page taken in per event-loop turn: live messages are handled between slices, so
 * a catch-up delays them by about one slice's store writes (the signatures are checked beforehand,
 * on #verifyPool's threads) plus the commit they join (docs/performance.md "catch-up").
 */
const SYNC_SLICE = 4;
/**
 * Reports from sync pages committed together when nothing else joins the transaction: each commit
 * writes every page the transaction touched, so slices of 8 committed one by one cost several times
 * the signature checks; a live report that joins waits for the commit of what is open, so the
 * group stays small. 32 against 64: live delay during a catch-up 2.1 against 2.5 ms median, no
 * measurable change in its duration (docs/performance.md "catch-up").
 */
const SYNC_COMMIT_ENTRIES = 32;
/**
 * Improved copies wait this long before they travel on: a first copy goes at once, but when better
 * paths keep arriving, the improvements of one report leave together as the best one.
 */
const IMPROVEMENT_HOLD_MS = 3;

/**
 * A running f2bp2p node: verifies what friends send, keeps the ledger, writes the bans log and passes
 * reports on. The trust rules and checks it applies live in pure modules; this class wires them to I/O.
 */
export class F2bNode extends EventEmitter<NodeEvents> {
  readonly config: NodeConfig;
  readonly identity: Identity;
  readonly id: string;
  readonly stats: NodeStats = {
    messages: 0,
    accepted: 0,
    noGain: 0,
    syncReports: 0,
    syncNoGain: 0,
    bans: 0,
    localReports: 0,
    rejected: {},
    storeErrors: 0,
    bansLogErrors: 0,
    setAside: 0,
    unbans: 0,
    revocations: 0,
    echoesStopped: 0,
    checkedAhead: 0,
  };
  readonly #c: NodeComponents;
  readonly #friends: Friend[];
  readonly #friendsByKey = new Map<string, Friend>();
  #ledger: Ledger | undefined;
  #store: StateStore | undefined;
  /** The state this node opened itself (no store given): closed at stop. */
  #ownState: NodeState | undefined;
  readonly #bansLog: BansLog;
  #neverBan: NeverBan;
  /** Never-ban lists friends sent (docs/protocol.md section 18), kept in the store too. */
  readonly #friendLists = new FriendNeverBanLists();
  /** Changed lists admitted per friend (LIST_CHANGES). */
  readonly #listChanges = new Map<string, TokenBucket>();
  /** List messages admitted per friend (LIST_MESSAGES). */
  readonly #listMessages = new Map<string, TokenBucket>();
  #listExpiryTimer: NodeJS.Timeout | undefined;
  /** This node's own never-ban list, sent to every friend. */
  #shared: readonly IpRange[] = [];
  /** Friends' endpoint addresses (address → why), kept so a new ignore list can be built with them. */
  readonly #friendAddresses = new Map<string, string>();
  /** Why each pending lift was decided, for its UNBAN line (a lift resumed after a restart: "resumed"). */
  readonly #liftReasons = new Map<string, LiftReason>();
  /** Reports refused for time, per friend, and this host's own clock state: shown by `status`. */
  readonly clockSkew: ClockSkew;
  readonly #listener: Listener;
  readonly #authLog: AuthLog;
  readonly #rateLimit: FriendRateLimit;
  /** Refusals per friend not yet in the store's friend-worth tally (flushed once a minute). */
  readonly #rejections = new RejectionTally();
  /**
   * Messages applied in the store transaction that is still open: one commit for every message that
   * arrives in the same turn of the event loop (group commit), so a burst of one-report envelopes
   * does not pay one commit each. Their forwarding and ban lines follow the commit.
   */
  #group:
    | {
        frames: Buffer[][];
        accepted: Accepted[];
        /** Friends whose sync pages have reports in this group: a rollback makes them ask again. */
        syncFrom: Set<Friend>;
        /** Reports from sync pages in this group: a group of sync slices alone commits every SYNC_COMMIT_ENTRIES. */
        syncEntries: number;
        /** The commit at the end of this event-loop turn is scheduled (anything but sync slices joined). */
        commitScheduled: boolean;
        /** Last pages of sync answers taken in: once committed, ask for more or note caught up. */
        answers: { friend: Friend; page: OpenedSyncPage<Friend>["page"] }[];
        marks: [string, number][];
      }
    | undefined;
  /**
   * Ban lines written to the bans log whose "written" mark is not yet committed (IP → when): the
   * mark rides along with the next store transaction instead of costing a commit of its own. After
   * a crash before it is committed, start-up finds the line in the bans log (pending-bans.ts).
   */
  readonly #unmarkedBans = new Map<string, number>();
  #markTimer: NodeJS.Timeout | undefined;
  /** Messages whose store write failed, retried until the disk is back. */
  readonly #pendingMessages = new PendingMessages();
  /** Causes of failing writes already logged at error level, by target: one line per cause. */
  readonly #failing = new Map<"store" | "bans log", string>();
  /** Why the bans log's path could not be reopened while the old file is still written, once logged. */
  #staleBansLog: string | undefined;
  /** CURVE key → friend name: who ZAP lets in. */
  #curveKeys: Map<string, string>;
  /** Catch-up sync with every friend (catch-up.ts). */
  readonly #catchUp: CatchUp;
  /**
   * Sync pages verified and waiting to be taken in, a slice per turn; `next`: first entry not yet;
   * `verdicts`: their records' signature checks, made on #verifyPool's threads (undefined: not yet).
   */
  readonly #syncInbox: { opened: OpenedSyncPage<Friend>; next: number; verdicts: Verdicts | undefined }[] =
    [];
  readonly #verifyPool = new VerifyPool();
  /** Origin signatures found valid here: a stored report leaving again is not verified twice. */
  readonly #verified = new VerifiedSignatures();
  /** Live messages that arrived while others waited: checked ahead on #verifyPool, taken in in order. */
  readonly #backlog = new LiveBacklog({
    verify: (messages) => this.#verifyPool.verifyMessages(messages),
    take: (frames, verdicts) => this.handleMessage(frames, verdicts),
    worthChecking: (frames) => this.#worthCheckingAhead(frames),
    // Every message kind names its sender's key at offset 4 (docs/protocol.md sections 6, 13, 18).
    senderOf: (frames) => claimOf(frames).sender ?? "",
  });
  #draining = false;
  #expireTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
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
    this.#store = components.store;
    this.#bansLog = new BansLog(config.bansLog);
    this.#neverBan = new NeverBan(config.ignore, undefined, config.specialBannable);
    this.clockSkew = new ClockSkew({
      now: components.now,
      log: components.log.child({ component: "clock" }),
      lifetimeMs: config.reportLifetimeSeconds * 1000,
    });
    this.#rateLimit = new FriendRateLimit(
      { reportsPerSecond: config.friendReportsPerSecond, burst: config.friendBurst },
      this.#friends.map((f) => f.key),
      components.now(),
    );
    this.#authLog = new AuthLog(config.authLog, components.log.child({ component: "auth" }), components.now);
    this.#curveKeys = new Map(this.#friends.map((f) => [f.config.curveKey, f.config.name]));
    this.#catchUp = new CatchUp({
      store: () => this.#store!,
      self: identity.signingPublicKey,
      signer: identity.signer,
      now: components.now,
      log: components.log.child({ component: "sync" }),
      maxHops: config.maxHops,
      intervalMs: config.syncIntervalSeconds * 1000,
      recheck: (report, now, verdicts) => {
        const verdict = verdicts?.(report.signed);
        const checked = checkStoredReport(report.signed, now, this.#lifetimeMs, verdict, this.#verified);
        if (!checked.ok && checked.code !== "expired") this.#setAside(report.signed.id, checked.code, now);
        // A report held from before its revocation stays in the seen cache but never leaves again.
        return (
          checked.ok &&
          (checked.value.report.revocation !== undefined || !this.ledger.isRevoked(checked.value.report))
        );
      },
      // What was verified here already is re-checked by the memo, not on a thread.
      verify: (records) =>
        this.#verifyPool.verify(records.filter((r) => !this.#verified.has(r.id, r.signature))),
    });
    this.#listener = new Listener({
      context: components.context,
      endpoint: config.listen,
      curvePublicKey: identity.curvePublicKey,
      curveSecretKey: identity.curveSecretKey,
      zapDomain: `f2bp2p-${this.id}`,
      // Read through #curveKeys on every handshake, so a reload's new friends are admitted at once;
      // every refusal goes to the auth log.
      policy: this.#authLog.policy((key) => this.#curveKeys.get(key)),
      onConnectionEnded: () => this.#authLog.connectionClosed(),
      log: components.log.child({ component: "listener" }),
      onMessage: (frames, more) => this.#backlog.offer(frames, more),
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
      maxQueued: this.#c.linkQueue,
      reconnectIntervalMs: this.#c.linkReconnectMs,
      // Whatever was in flight when a connection dropped is gone (PUSH has no acknowledgements), and
      // the friend may have been down: ask it for what we lack (and it asks us back).
      onConnected: () => this.#catchUp.connected(friend),
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

  /** The rules over the store; available once start() has opened the state. */
  get ledger(): Ledger {
    if (this.#ledger === undefined) throw new Error("node not started");
    return this.#ledger;
  }

  get #lifetimeMs(): number {
    return this.config.reportLifetimeSeconds * 1000;
  }

  /** Where the catch-up sync with a friend (signing key hex) stands. */
  syncStatus(friendKey: string): SyncStatus {
    return this.#catchUp.status(friendKey);
  }

  /** Messages waiting for the store to accept writes again. */
  get pendingMessages(): number {
    return this.#pendingMessages.count;
  }

  async start(): Promise<void> {
    if (!zmq.capability.curve)
      throw new Error("this ZeroMQ build has no CURVE support; refusing to run unencrypted");
    if (this.#store === undefined) {
      this.#ownState = openNodeState(this.config.stateDir);
      this.#store = this.#ownState.store;
    }
    const store = this.#store;
    this.#ledger = new Ledger(store, {
      lifetimeMs: this.#lifetimeMs,
      threshold: this.config.threshold,
      trustOfVia: (via) => this.#friendsByKey.get(via)?.config.trust ?? importSourceOf(via)?.trust ?? 0,
      maxReportsPerFriend: this.config.maxReportsPerFriend,
    });
    try {
      this.#bansLog.open();
    } catch (err: unknown) {
      // A bans log that cannot be opened must not keep the node from relaying: bans wait in the store.
      this.#writeFailed("bans log", err);
    }
    importJournal({
      stateDir: this.config.stateDir,
      ledger: this.#ledger,
      store,
      self: this.identity.signingPublicKey,
      friendKeys: new Set(this.#friendsByKey.keys()),
      now: this.#c.now(),
      lifetimeMs: this.#lifetimeMs,
      log: this.#c.log,
    });
    reconcilePendingBans(store, this.config.bansLog, this.#c.log);
    reconcilePendingLifts(store, this.config.bansLog, this.#c.log);
    this.#writePendingBans();
    this.#writePendingLifts();
    await this.#protectFriendAddresses();
    this.#liftNeverBanned();
    this.setSharedNeverBan(this.config.shareNeverBan, this.config.shareOwnAddresses, false);
    this.#loadNeverBanLists();
    await this.#authLog.start(this.#friendHosts());
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
    this.#catchUp.start(() => this.#friends);
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
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#listExpiryTimer);
    this.#catchUp.stop();
    this.#backlog.clear();
    this.#verifyPool.close();
    clearTimeout(this.#markTimer);
    this.#commitGroup(true);
    this.#flushRejections();
    if (this.#unmarkedBans.size > 0 && this.#store !== undefined) {
      this.#openGroup();
      this.#commitGroup(true);
    }
    for (const f of this.#friends) f.link.close();
    await this.#listener.stop();
    // A message that arrived while the listener was closing opened a group: commit it before closing.
    this.#commitGroup(true);
    this.#bansLog.close();
    this.#authLog.close();
    this.#ownState?.close();
    this.#c.log.info("node stopped", { id: this.id });
  }

  /**
   * logrotate moved the bans log away: start a new file at the configured path. When the new file
   * cannot be opened (a directory in the way, a file the node may not write), the old one stays in use
   * and the reason is logged; returns false then.
   */
  reopenBansLog(): boolean {
    try {
      this.#bansLog.reopen();
    } catch (err: unknown) {
      this.#c.log.error("cannot reopen the bans log; still writing to the old file", {
        error: err instanceof Error ? err.message : String(err),
      });
      return false;
    }
    this.#c.log.info("bans log reopened", { file: this.#bansLog.file });
    this.#writePendingBans();
    this.#writePendingLifts();
    return true;
  }

  /**
   * logrotate moved the auth log away: start a new file at the configured path. A file that cannot
   * be opened is logged once and tried again at the next refused attempt.
   */
  reopenAuthLog(): void {
    this.#authLog.reopen();
  }

  /** Each friend's name and endpoint host, for the auth log's never-counted addresses. */
  #friendHosts(): { name: string; host: string }[] {
    return this.#friends.map((f) => ({ name: f.config.name, host: parseEndpointHost(f.config.endpoint) }));
  }

  /** friends.d re-read on reload (see reload.ts): links to dropped friends close, new ones open. */
  replaceFriends(configs: readonly FriendConfig[]): FriendPlan<Friend> {
    const plan = planFriends(this.#friends, configs);
    for (const f of plan.dropped) {
      f.link.close();
      this.#catchUp.forget(f.key);
    }
    const added = plan.added.map((c) => this.#makeFriend(c));
    const next = [...plan.kept.map(({ friend, config }) => ({ ...friend, config })), ...added];
    this.#friends.splice(0, this.#friends.length, ...next);
    this.#friendsByKey.clear();
    for (const f of next) this.#friendsByKey.set(f.key, f);
    this.#curveKeys = new Map(next.map((f) => [f.config.curveKey, f.config.name]));
    this.#rateLimit.setFriends(
      next.map((f) => f.key),
      this.#c.now(),
    );
    for (const f of added) f.link.start();
    // A dropped friend's list no longer counts; a kept one's never_ban_applies_to_all may have changed.
    for (const f of plan.dropped) {
      this.#friendLists.delete(f.key);
      this.#listChanges.delete(f.key);
      this.#listMessages.delete(f.key);
      try {
        this.#store?.transaction(() => this.#store!.dropNeverBanList(f.key));
      } catch (err: unknown) {
        this.#writeFailed("store", err);
      }
    }
    this.#reviewNeverBanLists();
    void this.#protectFriendAddresses();
    void this.#authLog.setFriends(this.#friendHosts());
    return plan;
  }

  /**
   * A ban from this host's own fail2ban: sign it, count it in full, send it to every friend. The
   * report is committed to the store (synced to disk) before this returns; its ban line, when the
   * score reaches the threshold, is written before too, or `banPending` says why it could not be.
   * Any jail name is fine: the report carries its label (protocol/jail.ts). `time` (ms since the
   * epoch, default now) is when the ban happened, for a report that waited in the spool; it must be
   * neither in the future nor older than the report lifetime (refused as `invalid-time`, with a
   * logged reason).
   */
  reportLocal(ipText: string, jailName: string, time?: number): LocalReportResult {
    const ip = parseIp(ipText);
    if (ip === null) return { status: "invalid-ip" };
    const jail = jailLabel(jailName);
    const neverBanned = this.#neverBan.reason(ip);
    if (neverBanned !== undefined) {
      this.#c.log.warn("not reporting an address on the never-ban list", {
        ip: ip.text,
        jail,
        why: neverBanned,
      });
      return { status: "ignored", reason: neverBanned };
    }
    const ledger = this.ledger;
    const now = this.#c.now();
    const reportTime = time ?? now;
    const lifetimeMs = this.config.reportLifetimeSeconds * 1000;
    if (!Number.isSafeInteger(reportTime) || reportTime > now || now - reportTime >= lifetimeMs) {
      const reason =
        reportTime > now
          ? `time ${new Date(reportTime).toISOString()} is in the future`
          : `time ${Number.isSafeInteger(reportTime) ? new Date(reportTime).toISOString() : String(reportTime)} is not within the report lifetime (${this.config.reportLifetimeSeconds} s)`;
      this.#c.log.warn("refusing a local report", { ip: ip.text, jail, reason });
      return { status: "invalid-time", reason };
    }
    const selfHex = this.identity.signingPublicKey.toString("hex");
    if (ledger.ownContribution(ip.text, selfHex, now) !== undefined) {
      return { status: "duplicate", ...this.#banState(ip.text) };
    }
    const echo = this.#echoOf(ip.text);
    if (echo !== undefined) {
      this.stats.echoesStopped++;
      this.#c.log.debug("echo stopped: not reporting a ban this node took from its friends", {
        ip: ip.text,
        jail,
        origin: echo.origin,
      });
      return { status: "ignored", reason: `banned here because of friends' reports (origin ${echo.origin})` };
    }
    const signed = signReport(
      { ip: ip.text, time: reportTime, origin: this.identity.signingPublicKey, jail },
      this.identity.signer,
    );
    this.#verified.add(signed.id, signed.signature);
    // fail2ban waits for this answer: committed now, synced to disk, with whatever joined the group.
    const failure = this.#applyAndSync(() => {
      creditConfirmations(this.#store!, ledger.contributions(ip.text), reportTime, now);
      const outcome = ledger.apply({ signed, trust: OWN_TRUST, via: VIA_SELF, path: [], at: now });
      return outcome.kind === "accepted" ? [this.#record(outcome, signed, undefined, now)] : [];
    });
    if (failure !== undefined) return { status: "store-failed", message: failure };
    this.stats.localReports++;
    return { status: "accepted", ...this.#banState(ip.text) };
  }

  /**
   * Reports from `f2bp2p import` (already verified there, checked again here as stored reports are):
   * applied as if a friend with `source.trust` had sent them, with that friend's caps (per-IP trust,
   * max_reports_per_friend), expiry and never-ban rules, in one durable commit. They travel on to
   * friends only with `source.relay`. Our own reports and expired ones are skipped and counted.
   */
  importReports(reports: readonly SignedReport[], source: ImportSource): ImportResult {
    const now = this.#c.now();
    const key = importKey(source);
    const via = key.toString("hex");
    const result = { accepted: 0, known: 0, own: 0, expired: 0, overQuota: 0, invalid: 0 };
    const self = this.identity.signingPublicKey;
    const failure = this.#applyAndSync(() => {
      const out: Accepted[] = [];
      for (const candidate of reports) {
        const checked = checkStoredReport(candidate, now, this.#lifetimeMs, undefined, this.#verified);
        if (!checked.ok) {
          if (checked.code === "expired") result.expired++;
          else result.invalid++;
          continue;
        }
        const signed = checked.value;
        if (signed.report.origin.equals(self)) {
          result.own++;
          continue;
        }
        const path = [signed.report.origin, key];
        const outcome = this.ledger.apply({ signed, trust: source.trust, via, path, at: now });
        if (outcome.kind === "over-quota") result.overQuota++;
        // Revoked: its origin withdrew it (a revocation is held), so it changes nothing either.
        else if (outcome.kind === "no-gain" || outcome.kind === "revoked") result.known++;
        else {
          result.accepted++;
          if (!outcome.improved) this.ledger.store.addFriendWorth(via, { brought: 1 });
          out.push(this.#record(outcome, signed, undefined, now));
        }
      }
      return out;
    });
    if (failure !== undefined) return { status: "store-failed", message: failure };
    this.#c.log.info("reports imported", { trust: source.trust, relay: source.relay, ...result });
    return { status: "imported", ...result };
  }

  /**
   * Applies records someone waits for (a local report, a revocation, an import) in the group
   * transaction and commits it synced to disk with whatever joined it. Returns why the store refused,
   * or undefined; nothing of `work` is kept then.
   */
  #applyAndSync(work: () => Accepted[]): string | undefined {
    let accepted: Accepted[];
    try {
      this.#openGroup();
      accepted = this.#store!.transaction(work);
    } catch (err: unknown) {
      if (!(err instanceof StoreWriteError)) throw err;
      this.#writeFailed("store", err);
      this.#abandonGroup();
      return err.message;
    }
    this.#group!.accepted.push(...accepted);
    return this.#commitGroup(true)?.message;
  }

  /** Score, and whether the ban line is written or why it is still pending. */
  #banState(ip: string): { score: number; banned: boolean; banPending?: string } {
    const ban = this.ledger.ban(ip);
    const score = this.ledger.score(ip);
    if (ban === undefined || ban.withheld) return { score, banned: false };
    if (ban.writtenAt !== null || this.#unmarkedBans.has(ip)) return { score, banned: true };
    const cause = this.#failing.get("bans log") ?? "not written yet";
    return { score, banned: false, banPending: `bans log ${this.#bansLog.file}: ${cause}` };
  }

  /**
   * Lifts this node's ban of `ipText`, for `reason` (a LiftReason token; throws on another): the
   * ban record becomes withheld (durably committed first, so the same live reports never ban it
   * again), then `UNBAN <ip> reason=<reason>` is appended to the bans log once, which
   * `f2bp2p unban-apply` (root, docs/fail2ban.md) turns into fail2ban's unban. A line that cannot be
   * written yet is retried like a pending ban, also after a restart (pending-bans.ts). Bans decided
   * in the open group are committed and written before, so an UNBAN never precedes its BAN.
   */
  liftBan(ipText: string, reason: LiftReason): LiftResult {
    if (!LIFT_REASON.test(reason)) throw new Error(`bug: lift reason '${reason}' is not a token`);
    const ip = parseIp(ipText);
    if (ip === null) return { status: "invalid-ip" };
    const groupFailure = this.#commitGroup(true);
    if (groupFailure !== undefined) return { status: "store-failed", message: groupFailure.message };
    const ban = this.ledger.ban(ip.text);
    if (ban === undefined || (ban.withheld && ban.writtenAt === null)) return { status: "not-banned" };
    const writtenAt = ban.writtenAt ?? this.#unmarkedBans.get(ip.text) ?? null;
    const heldBy = reason === FRIEND_NEVER_BAN ? (this.heldBackBy(ip.text, this.#c.now()) ?? null) : null;
    const lifted: BanRecord = { ...ban, writtenAt, withheld: true, heldBy };
    try {
      this.#openGroup();
      this.#store!.transaction(() => {
        // A revoked report's ban never written: nothing to undo, and new reports may ban again.
        if (writtenAt === null && this.#forgets(ip.text, reason)) this.#store!.forgetBan(ip.text);
        else this.#store!.decideBan(lifted);
      });
    } catch (err: unknown) {
      if (!(err instanceof StoreWriteError)) throw err;
      this.#writeFailed("store", err);
      this.#abandonGroup();
      return { status: "store-failed", message: err.message };
    }
    const failure = this.#commitGroup(true);
    if (failure !== undefined) return { status: "store-failed", message: failure.message };
    this.#unmarkedBans.delete(ip.text);
    if (writtenAt === null) {
      this.#c.log.info("ban lifted before its line was written: none will be", { ip: ip.text, reason });
      return { status: "withheld" };
    }
    this.#liftReasons.set(ip.text, reason);
    if (this.#writeLifts([lifted])) return { status: "lifted" };
    return { status: "pending", reason: `bans log ${this.#bansLog.file}: ${this.#failing.get("bans log")}` };
  }

  /** Appends the UNBAN lines of `lifts`, then records them as written; false when the write failed. */
  #writeLifts(lifts: readonly BanRecord[]): boolean {
    const at = new Date(this.#c.now());
    const reasons = lifts.map((b) => this.#liftReasons.get(b.ip) ?? "resumed");
    const text = lifts.map((b, i) => formatUnbanLine({ at, ip: b.ip, reason: reasons[i]! })).join("");
    if (!this.#appendToBansLog(text)) return false;
    try {
      // Withheld with no line in force. Lost in a crash, start-up finds the UNBAN line (pending-bans.ts).
      // A ban lifted by a revocation is forgotten instead: the reports left are below the
      // threshold, and new ones (another origin, a new detection) may ban the address again.
      this.#store!.transaction(() => {
        lifts.forEach((b, i) => {
          if (this.#forgets(b.ip, reasons[i]!)) this.#store!.forgetBan(b.ip);
          else this.#store!.decideBan({ ...b, writtenAt: null, withheld: true });
        });
      });
    } catch (err: unknown) {
      this.#writeFailed("store", err);
    }
    lifts.forEach((b, i) => {
      this.#liftReasons.delete(b.ip);
      this.stats.unbans++;
      this.#c.log.info("unban", { ip: b.ip, reason: reasons[i] });
      this.emit("unban", { ip: b.ip, reason: reasons[i]! });
    });
    return true;
  }

  /**
   * True when a lifted ban is forgotten rather than kept withheld: a revocation took its score
   * below the threshold, so the reports left cannot ban it again by themselves.
   */
  #forgets(ip: string, reason: LiftReason): boolean {
    return reason === REVOKED && this.ledger.score(ip) < this.config.threshold;
  }

  /** Writes the UNBAN lines of lifts decided earlier whose line could not be written then. */
  #writePendingLifts(): void {
    if (this.#group !== undefined) return;
    let pending: BanRecord[];
    try {
      pending = this.ledger.store.pendingLifts(1000);
    } catch (err: unknown) {
      this.#writeFailed("store", err);
      return;
    }
    if (pending.length > 0) this.#writeLifts(pending);
  }

  /**
   * The ban this node took from its friends' reports, when `ip` has one in force and no report of
   * this node's own behind it: a local ban of it is then fail2ban banning it again because of that
   * ban (recidive, a jail with the f2bp2p action in [DEFAULT]), never a detection of its own.
   */
  #echoOf(ip: string): BanRecord | undefined {
    const ban = this.ledger.ban(ip);
    return ban !== undefined && !ban.withheld ? ban : undefined;
  }

  /**
   * A new `ignore` list (reload, see reload.ts): from now on its addresses are never banned nor
   * reported, and this node's bans of them are lifted (UNBAN lines).
   */
  setIgnoreList(ignore: readonly string[]): void {
    const next = new NeverBan(ignore, undefined, this.config.specialBannable);
    for (const [address, why] of this.#friendAddresses) next.add(address, why);
    this.#neverBan = next;
    this.#liftNeverBanned();
  }

  /** Lifts every ban in force of an address now on the never-ban list (ignore changed, new friend). */
  #liftNeverBanned(): void {
    let lift: { ip: string; reason: LiftReason }[];
    try {
      lift = [...this.ledger.store.activeBans()]
        .map((b) => ({ ip: b.ip, why: this.#neverBan.reason(b.ip) }))
        .filter((b) => b.why !== undefined)
        .map((b) => ({
          ip: b.ip,
          reason: b.why!.startsWith("on the ignore list") ? "ignore-list" : "never-ban",
        }));
    } catch (err: unknown) {
      this.#writeFailed("store", err);
      return;
    }
    const selfHex = this.identity.signingPublicKey.toString("hex");
    for (const { ip, reason } of lift) {
      const result = this.liftBan(ip, reason);
      this.#c.log.info("lifting the ban of an address on the never-ban list", {
        ip,
        reason,
        result: result.status,
      });
      if (this.ledger.ownContribution(ip, selfHex, this.#c.now()) !== undefined)
        this.#revokeOwnReportOf(ip, reason);
    }
  }

  /**
   * This node's own live report of `ip` must no longer count (the address is on the never-ban list):
   * a revocation takes it back at every friend (revokeLocal), with the lift reason as its reason.
   */
  #revokeOwnReportOf(ip: string, reason: LiftReason): void {
    const result = this.revokeLocal(ip, reason);
    this.#c.log.info("revoking this node's own report of an address now on the never-ban list", {
      ip,
      reason,
      result: result.status,
    });
    this.emit("own-report:never-ban", { ip, reason, revoked: result.status });
  }

  /**
   * Takes back this node's own report(s) of `ipText` (docs/protocol.md section 17): signs a
   * revocation with time now and `reason` (0-64 printable ASCII characters), commits it durably,
   * sends it to every friend as a report travels and, when the score here falls below the threshold
   * of a ban in force, lifts that ban (UNBAN line, reason `revoked`). Refused as `not-reported` when
   * this node holds no live report of its own of the address.
   */
  revokeLocal(ipText: string, reason: string): RevokeResult {
    const ip = parseIp(ipText);
    if (ip === null) return { status: "invalid-ip" };
    if (!REVOCATION_REASON_PATTERN.test(reason)) return { status: "invalid-reason" };
    const ledger = this.ledger;
    const now = this.#c.now();
    const self = this.identity.signingPublicKey;
    if (ledger.ownContribution(ip.text, self.toString("hex"), now) === undefined)
      return { status: "not-reported" };
    const signed = signRevocation({ ip: ip.text, time: now, origin: self, reason }, this.identity.signer);
    this.#verified.add(signed.id, signed.signature);
    // The sysadmin waits for this answer: committed, synced, sent and the ban lifted before it.
    const failure = this.#applyAndSync(() => {
      const outcome = ledger.apply({ signed, trust: OWN_TRUST, via: VIA_SELF, path: [], at: now });
      return outcome.kind === "accepted" ? [this.#record(outcome, signed, undefined, now)] : [];
    });
    if (failure !== undefined) return { status: "store-failed", message: failure };
    return { status: "revoked", ...this.#banState(ip.text) };
  }

  /**
   * A message waiting behind others: an envelope (by its header) from a friend within its rate limit,
   * whose signatures are worth checking on another thread. Checked again when it is taken in.
   */
  #worthCheckingAhead(frames: readonly Buffer[]): boolean {
    const head = frames[0];
    if (head === undefined || head.length < 2 || head[0] !== PROTOCOL_VERSION || head[1] !== KIND_ENVELOPE)
      return false;
    // Only frame counts openMessage could accept go to a thread (libzmq bounds each frame's size).
    if (frames.length < 4 || frames.length > MAX_FRAMES || frames.length % 2 !== 0) return false;
    const claim = claimOf(frames);
    return this.#friendsByKey.has(claim.sender ?? "") && this.#rateLimit.admits(claim, this.#c.now());
  }

  /**
   * One message from the listener. Everything in it is hostile until checked, and nothing here throws:
   * a store that cannot write keeps the message in memory (bounded) and retries it. `verdicts`: its
   * signature checks made already on the verify pool (LiveBacklog), or undefined: made here.
   */
  handleMessage(frames: Buffer[], verdicts?: Verdicts): void {
    const arrived = performance.now();
    this.stats.messages++;
    const head = frames[0];
    if (head !== undefined && head.length >= 2 && head[0] === PROTOCOL_VERSION) {
      if (head[1] === KIND_SYNC_REQUEST) {
        this.#handleSyncRequest(frames);
        return;
      }
      if (head[1] === KIND_SYNC_PAGE) {
        this.#handleSyncPage(frames);
        return;
      }
      if (head[1] === KIND_NEVER_BAN_LIST) {
        this.#handleNeverBanList(frames);
        return;
      }
    }
    const claim = claimOf(frames);
    if (!this.#rateLimit.admits(claim, this.#c.now())) {
      this.#rejected("rate-limited", this.#friendsByKey.get(claim.sender ?? ""));
      return;
    }
    const hopVerdict =
      frames.length < 2 ? undefined : verdicts?.({ bytes: frames[0]!, signature: frames[1]! });
    const opened = openMessage(
      frames,
      {
        self: this.identity.signingPublicKey,
        friendBySigningKey: (key) => this.#friendsByKey.get(key.toString("hex")),
      },
      hopVerdict,
    );
    if (!opened.ok) {
      this.#rejected(opened.code, undefined);
      return;
    }
    if (verdicts !== undefined) this.stats.checkedAhead++;
    this.#rateLimit.charge(opened.value.hop.key, claim.cost, this.#c.now());
    let accepted: Accepted[];
    try {
      this.#openGroup();
      accepted = this.#store!.transaction(() => this.#ingest(opened.value, false, verdicts));
    } catch (err: unknown) {
      this.#ingestFailed(frames, err);
      return;
    }
    this.#group!.frames.push(frames);
    this.#group!.accepted.push(...accepted);
    this.emit("message:ingested", {
      friend: opened.value.hop.config.name,
      reports: opened.value.reports.length,
      seconds: (performance.now() - arrived) / 1000,
    });
  }

  /** A friend asks what our log holds for it (section 13.3); the answer is built in slices. */
  #handleSyncRequest(frames: Buffer[]): void {
    const opened = openSyncRequest(frames, {
      self: this.identity.signingPublicKey,
      friendBySigningKey: (key) => this.#friendsByKey.get(key.toString("hex")),
    });
    if (!opened.ok) {
      this.#rejected(opened.code, undefined);
      return;
    }
    const { request, friend } = opened.value;
    // A friend that comes back asks first: our answer must not wait for our link's reconnect backoff.
    friend.link.heardFrom();
    // Our never-ban list leads every answer: a friend that was away gets it by catch-up (section 18.3).
    if (
      !this.#catchUp.answer(friend, request, () =>
        friend.link.sendNeverBanList(this.#sealNeverBanList(friend)),
      )
    ) {
      this.#rejected("rate-limited", friend);
      return;
    }
    this.emit("sync:message", { friend: friend.config.name, kind: "request", reports: 0 });
  }

  /**
   * A page of a friend's answer to our sync request (section 13.4). It is checked whole at once
   * (what we asked for, then its signature) and its reports are taken in a slice per event-loop turn.
   */
  #handleSyncPage(frames: Buffer[]): void {
    const opened = openSyncPage(frames, {
      self: this.identity.signingPublicKey,
      friendBySigningKey: (key) => this.#friendsByKey.get(key.toString("hex")),
      solicited: (hop, page) => this.#catchUp.solicited(hop, page),
    });
    if (!opened.ok) {
      const claimed = frames[0]!.length >= 36 ? frames[0]!.subarray(4, 36).toString("hex") : "";
      this.#rejected(
        opened.code,
        opened.code === "unsolicited" ? this.#friendsByKey.get(claimed) : undefined,
      );
      return;
    }
    const item = { opened: opened.value, next: 0, verdicts: undefined as Verdicts | undefined };
    this.#syncInbox.push(item);
    void this.#verifyPool.verify(opened.value.reports).then((verdicts) => {
      item.verdicts = verdicts;
      this.#drainSoon();
    });
    this.emit("sync:message", {
      friend: opened.value.hop.config.name,
      kind: "page",
      reports: opened.value.page.entries.length,
    });
    this.#catchUp.arrived(opened.value.hop, opened.value.page);
  }

  /** Takes in the sync inbox from the next turn on, unless that is under way. */
  #drainSoon(): void {
    if (this.#draining) return;
    this.#draining = true;
    setImmediate(() => this.#drainSyncInbox());
  }

  /**
   * Takes in one slice of the oldest waiting sync page, exactly as a live envelope's reports
   * (#ingest), in the group transaction; the page's last slice moves the friend's cursor in the same
   * transaction. A page whose write fails is dropped: the cursor did not move, so it is asked again.
   */
  #drainSyncInbox(): void {
    const item = this.#syncInbox[0];
    if (item === undefined || this.#stopped) {
      this.#draining = false;
      this.#commitGroup(false);
      return;
    }
    // Its signatures are still being checked: #drainSoon is called again when they are. The group
    // stays open meanwhile; a live message that joins it commits it at the end of its turn.
    if (item.verdicts === undefined) {
      this.#draining = false;
      return;
    }
    // A live message joined the group: its commit goes first, not after one more slice.
    if (this.#group?.commitScheduled) this.#commitGroup(false);
    const { page, hop, reports } = item.opened;
    const end = Math.min(item.next + SYNC_SLICE, page.entries.length);
    const slice = { from: page.from, to: page.to, entries: page.entries.slice(item.next, end) };
    const done = end === page.entries.length;
    try {
      this.#openGroup(true);
      const accepted = this.#store!.transaction(() => {
        const now = this.#c.now();
        const carried = { envelope: slice, hop, reports: reports.slice(item.next, end) };
        const taken = this.#ingest(carried, true, item.verdicts);
        this.stats.syncReports += slice.entries.length;
        if (done) this.#catchUp.pageTakenIn(hop, page, now);
        return taken;
      });
      this.#group!.accepted.push(...accepted);
      this.#group!.syncFrom.add(hop);
      if (done && page.last) this.#group!.answers.push({ friend: hop, page });
      item.next = end;
      if (done) this.#syncInbox.shift();
      this.#group!.syncEntries += slice.entries.length;
      if (this.#group!.syncEntries >= SYNC_COMMIT_ENTRIES || (done && page.last)) this.#commitGroup(false);
    } catch (err: unknown) {
      this.#ingestFailed(undefined, err);
      this.#syncFailed(hop);
    }
    setImmediate(() => this.#drainSyncInbox());
  }

  /** Pages from a friend could not all be committed: the rest of its answer goes; it is asked again. */
  #syncFailed(friend: Friend): void {
    for (let i = this.#syncInbox.length - 1; i >= 0; i--)
      if (this.#syncInbox[i]!.opened.hop === friend) this.#syncInbox.splice(i, 1);
    this.#catchUp.pageFailed(friend);
  }

  /**
   * Opens the group transaction if none is open; it is committed at the end of this event-loop turn.
   * `syncSlice`: opened (or joined) by sync slices only, which commit it themselves every
   * SYNC_COMMIT_ENTRIES reports; anything else that joins makes it commit at the end of the turn,
   * so a live report never waits for a catch-up's commit longer than one slice.
   */
  #openGroup(syncSlice = false): void {
    if (this.#group === undefined) {
      this.#store!.begin();
      this.#group = {
        frames: [],
        accepted: [],
        syncFrom: new Set(),
        syncEntries: 0,
        commitScheduled: false,
        answers: [],
        marks: this.#applyBanMarks(),
      };
    }
    if (syncSlice || this.#group.commitScheduled) return;
    this.#group.commitScheduled = true;
    setImmediate(() => this.#commitGroup(false));
  }

  /**
   * Commits the open group, then forwards and writes the bans of everything in it. When the commit
   * fails, nothing of the group was kept: its messages wait in memory and are retried.
   */
  #commitGroup(durable: boolean): StoreWriteError | undefined {
    const group = this.#group;
    if (group === undefined) return undefined;
    this.#group = undefined;
    try {
      this.#store!.commit({ durable });
    } catch (err: unknown) {
      const failure =
        err instanceof StoreWriteError ? err : new StoreWriteError(this.#store!.file, String(err));
      this.#rollBack(group);
      this.#ingestFailed(undefined, failure);
      return failure;
    }
    this.#writeRecovered("store");
    for (const [ip, at] of group.marks) if (this.#unmarkedBans.get(ip) === at) this.#unmarkedBans.delete(ip);
    this.#afterCommit(group.accepted);
    for (const { friend, page } of group.answers) this.#catchUp.answerTakenIn(friend, page);
    return undefined;
  }

  /** Records the pending "written" marks in the open transaction; returns them (kept until commit). */
  #applyBanMarks(): [string, number][] {
    const marks = [...this.#unmarkedBans];
    if (marks.length === 0) return marks;
    try {
      this.#store!.transaction(() => {
        for (const [ip, at] of marks) this.#store!.markBanWritten(ip, at);
      });
    } catch {
      return []; // kept in #unmarkedBans: tried again with the next transaction
    }
    return marks;
  }

  /** Commits the pending "written" marks on their own when no message comes to carry them. */
  #flushBanMarks(): void {
    this.#markTimer = undefined;
    if (this.#unmarkedBans.size === 0 || this.#store === undefined) return;
    if (this.#group !== undefined) {
      // A group is open: try again once it is committed.
      this.#markTimer = setTimeout(() => this.#flushBanMarks(), MARK_FLUSH_MS);
      this.#markTimer.unref();
      return;
    }
    this.#openGroup();
    this.#commitGroup(false);
  }

  /** A write inside the group failed so that SQLite undid the whole transaction: retry its messages. */
  #abandonGroup(): void {
    const group = this.#group;
    if (group === undefined || this.#store!.inTransaction) return;
    this.#group = undefined;
    this.#rollBack(group);
  }

  #rollBack(group: { frames: Buffer[][]; syncFrom: Set<Friend> }): void {
    try {
      this.#store!.rollback();
    } catch {
      // Nothing more to undo: the transaction is gone either way.
    }
    this.ledger.resync();
    this.#catchUp.resync();
    for (const friend of group.syncFrom) this.#syncFailed(friend);
    for (const frames of group.frames) this.#keepForRetry(frames);
  }

  /** Checks and records every entry of an opened envelope; returns what to do once it is committed. */
  #ingest({ envelope, hop, reports }: OpenedMessage, fromSync = false, verdict?: Verdicts): Accepted[] {
    const ledger = this.ledger;
    const now = this.#c.now();
    const ctx = {
      self: this.identity.signingPublicKey,
      hop: hop.signingKey,
      now,
      lifetimeMs: this.#lifetimeMs,
      maxHops: this.config.maxHops,
      verdict,
      verified: this.#verified,
      known: (id: Buffer) => {
        lookup = { held: ledger.known(id, now) };
        return lookup.held?.signed;
      },
    };
    // The seen-cache lookup checkEntry makes is handed on to apply, so it is not made twice.
    let lookup: { held: StoredReport | undefined } | undefined;
    const accepted: Accepted[] = [];
    // Reports whose first copy here came through this friend (its "brought" tally, friend-worth.ts).
    let brought = 0;
    envelope.entries.forEach((entry, i) => {
      lookup = undefined;
      const checked = checkEntry(entry, reports[i]!, ctx);
      if (!checked.ok) {
        this.#rejected(checked.code, hop);
        if (checked.code === "from-future" || checked.code === "expired") {
          this.clockSkew.refused(hop.config.name, checked.code, reports[i]!.bytes, entry.path.length);
        }
        return;
      }
      const trust = relayedTrust(entry.trust, hop.config.trust);
      const outcome = ledger.apply(
        {
          signed: checked.value,
          trust,
          via: hop.key,
          // Copies: the keys are views into the received frame, which must not stay alive with the report.
          path: entry.path.map((key) => Buffer.from(key)),
          at: now,
        },
        lookup,
      );
      if (outcome.kind === "over-quota") this.#rejected("over-quota", hop);
      else if (outcome.kind === "revoked") this.#rejected("revoked", hop);
      else if (outcome.kind === "no-gain") {
        if (fromSync) this.stats.syncNoGain++;
        else this.stats.noGain++;
      } else {
        if (!outcome.improved && checked.value.report.revocation === undefined) brought++;
        accepted.push(this.#record(outcome, checked.value, hop, now));
      }
    });
    // One update of the friend's tally per envelope or slice, not one per report.
    if (brought > 0) ledger.store.addFriendWorth(hop.key, { brought });
    return accepted;
  }

  #ingestFailed(frames: Buffer[] | undefined, err: unknown): void {
    this.#abandonGroup();
    this.ledger.resync();
    if (err instanceof StoreWriteError) {
      this.stats.storeErrors++;
      this.#writeFailed("store", err);
      if (frames !== undefined) this.#keepForRetry(frames);
      this.#scheduleRetry();
      return;
    }
    if (err instanceof StoreDamagedError) {
      this.#c.log.error("state store damaged while running; message dropped", { error: err.message });
      return;
    }
    this.#c.log.error("bug: message handler threw", {
      error: err instanceof Error ? err.stack : String(err),
    });
  }

  #keepForRetry(frames: Buffer[]): void {
    if (this.#pendingMessages.add(frames)) return;
    this.#c.log.warn("message dropped: too much is waiting for the store; friends resend it", {
      waiting: this.#pendingMessages.count,
    });
  }

  /**
   * Inside the store transaction: decides the ban (pending until its line is written) and returns the
   * rest of what an accepted copy causes, to be done after the commit.
   */
  #record(
    outcome: Extract<Outcome, { kind: "accepted" }>,
    signed: SignedReport,
    from: Friend | undefined,
    now: number,
  ): Accepted {
    const { known, score } = outcome;
    const ip = signed.report.ip;
    const origin = shortId(signed.report.origin);
    const hops = known.path.length;
    let ban: BanRecord | undefined;
    if (outcome.banNow) {
      const heldBy = this.heldBackBy(ip, now, outcome.contributions);
      // Still held back by a list, as before: nothing to decide (banNow comes with each such report).
      if (heldBy !== undefined && outcome.ban?.heldBy) return { outcome, signed, from, ban };
      if (heldBy === undefined) creditBan(this.ledger.store, outcome.contributions);
      const withheld = heldBy !== undefined || this.#neverBan.has(ip);
      ban = { ip, score, origin, hops, decidedAt: now, writtenAt: null, withheld, heldBy: heldBy ?? null };
      this.ledger.store.decideBan(ban);
      if (heldBy !== undefined)
        this.#c.log.info("score reached threshold but a friend's never-ban list holds the ban back", {
          ip,
          score,
          friend: this.#friendsByKey.get(heldBy)?.config.name,
        });
      else if (withheld)
        this.#c.log.info("score reached threshold but address is on the never-ban list", { ip, score });
    }
    return { outcome, signed, from, ban };
  }

  /** After the commit: events, ban lines, forwarding, then bans lifted by revocations. */
  #afterCommit(accepted: readonly Accepted[]): void {
    const bans: BanRecord[] = [];
    const lifts = new Set<string>();
    for (const { outcome, signed, from, ban } of accepted) {
      const { known, copy, score } = outcome;
      const origin = shortId(signed.report.origin);
      if (signed.report.revocation !== undefined) {
        this.stats.revocations++;
        if (!outcome.improved) {
          this.#c.log.info("revocation", {
            ip: signed.report.ip,
            origin,
            reason: signed.report.revocation.reason,
            score,
          });
          this.emit("revocation:accepted", { ip: signed.report.ip, origin, score });
        }
        if (outcome.lift) lifts.add(signed.report.ip);
      } else {
        this.stats.accepted++;
        this.emit("report:accepted", {
          ip: signed.report.ip,
          origin,
          trust: known.trust,
          score,
          hops: known.path.length,
        });
      }
      if (ban !== undefined && !ban.withheld) bans.push(ban);
      this.#forward(signed, copy.trust, copy.path, from?.key, outcome.improved ? IMPROVEMENT_HOLD_MS : 0);
    }
    if (bans.length > 0) this.#writeBans(bans);
    // After the bans of the same group are written: an UNBAN never precedes its BAN.
    for (const ip of lifts) {
      const result = this.liftBan(ip, REVOKED);
      this.#c.log.info("lifting a ban whose score a revocation took below the threshold", {
        ip,
        result: result.status,
      });
    }
  }

  /**
   * Writes ban lines (one write for all), then marks them written. A line is in the bans log before
   * the store says so: after a crash in between, start-up finds the line and does not write it twice.
   */
  #writeBans(bans: readonly BanRecord[]): void {
    const at = this.#c.now();
    const text = bans.map((b) => formatBanLine({ at: new Date(at), ...b })).join("");
    if (!this.#appendToBansLog(text)) return;
    for (const b of bans) this.#unmarkedBans.set(b.ip, at);
    if (this.#markTimer === undefined && !this.#stopped) {
      this.#markTimer = setTimeout(() => this.#flushBanMarks(), MARK_FLUSH_MS);
      this.#markTimer.unref();
    }
    for (const b of bans) {
      this.stats.bans++;
      this.#c.log.info("ban", { ip: b.ip, score: b.score, origin: b.origin, hops: b.hops });
      this.emit("ban", { ip: b.ip, score: b.score, origin: b.origin, hops: b.hops });
    }
  }

  /** Appends whole lines to the bans log; false (logged, counted, retried later) when it failed. */
  #appendToBansLog(text: string): boolean {
    try {
      const { recreated, keptOld } = this.#bansLog.write(text);
      if (recreated)
        this.#c.log.warn("bans log was deleted or replaced; recreated", { file: this.#bansLog.file });
      if (keptOld !== undefined && this.#staleBansLog !== keptOld.reason) {
        this.#c.log.error("bans log path cannot be opened; still writing to the old file", {
          error: keptOld.message,
        });
      }
      this.#staleBansLog = keptOld?.reason;
    } catch (err: unknown) {
      this.stats.bansLogErrors++;
      this.#writeFailed("bans log", err);
      this.#scheduleRetry();
      return false;
    }
    this.#writeRecovered("bans log");
    return true;
  }

  /** Writes bans decided earlier whose line could not be written then (disk full, file missing). */
  #writePendingBans(): void {
    // Bans decided in the open group are written after its commit, by #afterCommit.
    if (this.#group !== undefined) return;
    for (;;) {
      let pending: BanRecord[];
      try {
        pending = this.ledger.store.pendingBans(1000);
      } catch (err: unknown) {
        this.#writeFailed("store", err);
        return;
      }
      const unwritten = pending.filter((b) => !this.#unmarkedBans.has(b.ip));
      if (unwritten.length === 0) return;
      const before = this.stats.bansLogErrors;
      this.#writeBans(unwritten);
      if (this.stats.bansLogErrors !== before || pending.length < 1000) return;
    }
  }

  /** Tries again what failed to be written, every RETRY_EVERY_MS while anything is pending. */
  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#stopped) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#stopped) return;
      this.#writePendingBans();
      this.#writePendingLifts();
      for (const frames of this.#pendingMessages.takeAll()) this.handleMessage(frames);
      if (this.#pendingMessages.count > 0 || this.#failing.size > 0) this.#scheduleRetry();
    }, RETRY_EVERY_MS);
    this.#retryTimer.unref();
  }

  /** Logs a failing write at error level once per cause; the node keeps running. */
  #writeFailed(target: "store" | "bans log", err: unknown): void {
    const cause =
      err instanceof StoreWriteError || err instanceof BansLogError
        ? err.reason
        : err instanceof Error
          ? err.message
          : String(err);
    if (this.#failing.get(target) === cause) return;
    this.#failing.set(target, cause);
    this.#c.log.error(`${target} write failed; retrying until it works`, {
      error: err instanceof Error ? err.message : String(err),
    });
    this.#scheduleRetry();
  }

  #writeRecovered(target: "store" | "bans log"): void {
    if (!this.#failing.delete(target)) return;
    this.#c.log.info(`${target} writes work again`);
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
    if (staysHere(path)) return 0;
    const targets = forwardTargets(candidates, pathKeys, path.length, trust, this.config.maxHops, fromKey);
    if (targets.length === 0) return 0;
    const forwardPath = [...path, this.identity.signingPublicKey];
    const report = { bytes: signed.bytes, signature: signed.signature };
    const expiresAt = signed.report.time + this.#lifetimeMs;
    for (const friend of targets) {
      friend.link.enqueue({ entry: { id: signed.id, trust, path: forwardPath }, report, expiresAt }, holdMs);
    }
    return targets.length;
  }

  #setAside(id: Buffer, reason: string, now: number): void {
    this.stats.setAside++;
    this.#c.log.error("stored report failed its re-check (damage on disk); set aside, not sent", {
      id: id.toString("hex").slice(0, 12),
      reason,
    });
    try {
      this.#store!.setAside(id, reason, now);
    } catch (err: unknown) {
      this.#writeFailed("store", err);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Never-ban lists (docs/protocol.md section 18)
  // -------------------------------------------------------------------------------------------

  /**
   * This node's own never-ban list: the configured ranges (`share_never_ban`) and, with
   * `shareOwnAddresses`, this host's public addresses. Sent to every friend at once when it changed
   * (`send`), and before every answer to a friend's sync request.
   */
  setSharedNeverBan(configured: readonly string[], shareOwnAddresses: boolean, send = true): void {
    const { ranges, left } = sharedNeverBan(configured, shareOwnAddresses);
    if (left.length > 0)
      this.#c.log.warn("never-ban list is full: these addresses of this host are not in it", { left });
    if (sameRanges(ranges, this.#shared)) return;
    this.#shared = ranges;
    this.#c.log.info("never-ban list for friends", { ranges: ranges.map((r) => r.text) });
    if (send) for (const f of this.#friends) f.link.sendNeverBanList(this.#sealNeverBanList(f));
  }

  /** The ranges this node asks its friends never to ban because of it. */
  get sharedNeverBan(): readonly IpRange[] {
    return this.#shared;
  }

  #sealNeverBanList(friend: Friend): Buffer[] {
    const time = this.#c.now();
    return sealNeverBanList(
      {
        from: this.identity.signingPublicKey,
        to: friend.signingKey,
        time,
        expiresAt: time + MAX_NEVER_BAN_LIST_LIFETIME_MS,
        ranges: this.#shared,
      },
      this.identity.signer,
    );
  }

  /** A friend's never-ban list: checked whole (section 18.2), kept when newer, bans looked at again. */
  #handleNeverBanList(frames: Buffer[]): void {
    const now = this.#c.now();
    const claimed = frames[0]!.length >= 36 ? frames[0]!.toString("hex", 4, 36) : "";
    const messages = this.#listMessages.get(claimed);
    if (messages !== undefined && messages.available(now) < 1) {
      this.#rejected("rate-limited", undefined);
      return;
    }
    const opened = openNeverBanList(frames, {
      self: this.identity.signingPublicKey,
      friendBySigningKey: (key) => this.#friendsByKey.get(key.toString("hex")),
      now,
    });
    if (!opened.ok) {
      this.#rejected(opened.code, opened.sender);
      return;
    }
    const { list, friend, bytes, signature } = opened.value;
    this.emit("never-ban-list:message", { friend: friend.config.name });
    // Charged once the signature proved the sender: naming another friend spends nothing of its share.
    const bucket = this.#listMessages.get(friend.key) ?? new TokenBucket(LIST_MESSAGES, now);
    this.#listMessages.set(friend.key, bucket);
    bucket.take(1, now);
    const held = this.#friendLists.get(friend.key);
    if (held !== undefined && list.time <= held.time) {
      this.#rejected("superseded", friend);
      return;
    }
    const changed = held === undefined || held.expiresAt <= now || !sameRanges(held.ranges, list.ranges);
    if (changed) {
      const changes = this.#listChanges.get(friend.key) ?? new TokenBucket(LIST_CHANGES, now);
      this.#listChanges.set(friend.key, changes);
      if (changes.available(now) < 1) {
        this.#rejected("rate-limited", friend);
        return;
      }
      changes.take(1, now);
    }
    if (changed || held === undefined || list.expiresAt - held.expiresAt >= LIST_REFRESH_WRITE_MS) {
      try {
        this.#commitGroup(true);
        this.#store!.transaction(() =>
          this.#store!.putNeverBanList({
            friend: friend.key,
            time: list.time,
            expiresAt: list.expiresAt,
            bytes: Buffer.from(bytes),
            signature: Buffer.from(signature),
          }),
        );
      } catch (err: unknown) {
        // Not applied: the friend sends it again with its next sync answer.
        this.#writeFailed("store", err);
        return;
      }
    }
    this.#friendLists.set(friend.key, list);
    this.emit("never-ban-list", {
      friend: friend.config.name,
      ranges: list.ranges.map((r) => r.text),
      changed,
    });
    if (!changed) return;
    this.#c.log.info("never-ban list from friend", {
      friend: friend.config.name,
      ranges: list.ranges.map((r) => r.text),
      expires: new Date(list.expiresAt).toISOString(),
    });
    this.#reviewNeverBanLists();
  }

  /** The lists kept in the store, re-checked (a damaged one is dropped and asked for again by sync). */
  #loadNeverBanLists(): void {
    try {
      for (const stored of this.ledger.store.neverBanLists()) {
        const decoded = decodeNeverBanList(stored.bytes);
        const friend = this.#friendsByKey.get(stored.friend);
        if (
          decoded.ok &&
          friend !== undefined &&
          decoded.value.from.equals(friend.signingKey) &&
          verifyTagged(NEVER_BAN_LIST_SIGNING_TAG, stored.bytes, stored.signature, friend.signingKey)
        )
          this.#friendLists.set(stored.friend, decoded.value);
        else if (friend !== undefined)
          this.#c.log.warn("a stored never-ban list failed its re-check; waiting for a new one", {
            friend: friend.config.name,
          });
      }
    } catch (err: unknown) {
      this.#writeFailed("store", err);
    }
    this.#reviewNeverBanLists();
  }

  /**
   * The friend (signing key hex) whose never-ban list holds back the ban of `ip` at `now`, if any:
   * the score without the contributions the lists in force hold back (friend-never-ban.ts) stays
   * under the threshold. `held`: the IP's contributions, when the caller has them already.
   */
  heldBackBy(ip: string, now = this.#c.now(), held?: readonly StoredContribution[]): string | undefined {
    const parsed = parseIp(ip);
    if (parsed === null) return undefined;
    const shields = this.#friendLists.shields(
      parsed,
      now,
      (friend) => this.#friendsByKey.get(friend)?.config.neverBanAppliesToAll,
    );
    if (shields.length === 0) return undefined;
    const contributions = held ?? this.ledger.contributions(ip);
    const shielded = contributions.filter((c) => isShielded(c, shields));
    const counted = contributions.filter((c) => !isShielded(c, shields));
    if (shielded.length === 0 || this.ledger.scoreOf(counted) >= this.config.threshold) return undefined;
    const first = shielded[0]!;
    return shields.find((s) => s.all || s.friend === first.origin || s.friend === first.via)!.friend;
  }

  /**
   * After a list changed, expired or a friend's settings changed: bans a list now holds back are
   * lifted (UNBAN, reason friend-never-ban); bans it no longer holds back are decided and written.
   */
  #reviewNeverBanLists(): void {
    if (this.#ledger === undefined || this.#stopped) return;
    const now = this.#c.now();
    let active: BanRecord[];
    let held: BanRecord[];
    try {
      active = this.#friendLists.nextExpiry(now) === undefined ? [] : [...this.ledger.store.activeBans()];
      held = this.ledger.store.heldBans();
    } catch (err: unknown) {
      this.#writeFailed("store", err);
      return;
    }
    for (const ban of active) {
      const by = this.heldBackBy(ban.ip, now);
      if (by === undefined) continue;
      const result = this.liftBan(ban.ip, FRIEND_NEVER_BAN);
      this.#c.log.info("lifting a ban a friend's never-ban list now holds back", {
        ip: ban.ip,
        friend: this.#friendsByKey.get(by)?.config.name,
        result: result.status,
      });
    }
    const released = held.filter((b) => this.heldBackBy(b.ip, now) === undefined);
    if (released.length > 0) {
      const decided: BanRecord[] = [];
      try {
        this.#commitGroup(true);
        this.#store!.transaction(() => {
          for (const b of released) {
            const score = this.ledger.score(b.ip);
            if (score < this.config.threshold) {
              this.#store!.forgetBan(b.ip);
              continue;
            }
            const ban = {
              ...b,
              score,
              decidedAt: now,
              writtenAt: null,
              withheld: this.#neverBan.has(b.ip),
              heldBy: null,
            };
            this.#store!.decideBan(ban);
            if (!ban.withheld) {
              creditBan(this.ledger.store, this.ledger.contributions(b.ip));
              decided.push(ban);
            }
          }
        });
      } catch (err: unknown) {
        this.#writeFailed("store", err);
        return;
      }
      for (const ban of decided)
        this.#c.log.info("a friend's never-ban list no longer holds the ban back", {
          ip: ban.ip,
          score: ban.score,
        });
      if (decided.length > 0) this.#writeBans(decided);
    }
    this.#scheduleListExpiry(now);
  }

  /** Looks at the bans again when the next list in force expires. */
  #scheduleListExpiry(now: number): void {
    clearTimeout(this.#listExpiryTimer);
    const next = this.#friendLists.nextExpiry(now);
    if (next === undefined) return;
    this.#listExpiryTimer = setTimeout(
      () => {
        this.#c.log.info("a friend's never-ban list expired");
        this.#reviewNeverBanLists();
      },
      Math.min(next - now + 1, 2 ** 31 - 1),
    );
    this.#listExpiryTimer.unref();
  }

  /** Each friend's never-ban list held here, for status. */
  neverBanListOf(
    friendKey: string,
  ): { ranges: string[]; time: number; expiresAt: number; inForce: boolean } | undefined {
    const list = this.#friendLists.get(friendKey);
    if (list === undefined) return undefined;
    const { time, expiresAt } = list;
    return { ranges: list.ranges.map((r) => r.text), time, expiresAt, inForce: expiresAt > this.#c.now() };
  }

  #rejected(code: RejectCode, friend: Friend | undefined): void {
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1;
    if (friend !== undefined) {
      friend.rejected[code] = (friend.rejected[code] ?? 0) + 1;
      this.#rejections.add(friend.key, code);
    }
    this.#c.log.debug("rejected", { code, friend: friend?.config.name ?? "?" });
    this.emit("report:rejected", { code, friend: friend?.config.name });
  }

  /** What each friend is worth (friend-worth.ts): stored tallies plus refusals not yet flushed. */
  friendWorth(): FriendWorthReport {
    const friends = this.#friends.map((f) => ({ name: f.config.name, key: f.key }));
    return friendWorth(this.ledger.store, friends, this.#rejections.pending);
  }

  /** Adds the refusals counted in memory to the store; kept for the next minute when it fails. */
  #flushRejections(): void {
    if (this.#store === undefined || this.#group !== undefined) return;
    try {
      this.#rejections.flush(this.#store);
    } catch (err: unknown) {
      this.#writeFailed("store", err);
    }
  }

  /** The once-a-minute sweep, run in steps between messages. */
  #expire(): void {
    this.#flushRejections();
    if (this.#sweeping || this.#ledger === undefined) return;
    this.#sweeping = true;
    const now = this.#c.now();
    const step = (): void => {
      if (this.#stopped) return;
      let done: boolean;
      try {
        done = this.ledger.expireStep(now).done;
      } catch (err: unknown) {
        this.#writeFailed("store", err);
        done = true;
      }
      if (!done) {
        setImmediate(step);
        return;
      }
      this.#sweeping = false;
    };
    step();
  }

  /** Friends' own addresses are never banned: losing the link to a friend is worse than any attacker. */
  async #protectFriendAddresses(): Promise<void> {
    const protect = (address: string, why: string): void => {
      this.#friendAddresses.set(address, why);
      this.#neverBan.add(address, why);
    };
    for (const f of this.#friends) {
      const host = parseEndpointHost(f.config.endpoint);
      if (parseIp(host) !== null) {
        protect(host, `the address of friend ${f.config.name}`);
        continue;
      }
      try {
        for (const { address } of await dns.lookup(host, { all: true }))
          protect(address, `the address of friend ${f.config.name}`);
      } catch {
        this.#c.log.warn("cannot resolve friend's host; its address is not protected from bans", { host });
      }
    }
  }
}
