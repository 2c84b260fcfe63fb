import crypto, { type KeyObject } from "node:crypto";
import { setImmediate as nextTurn } from "node:timers/promises";
import { TokenBucket } from "../limits/rate-limit.js";
import {
  MAX_ENTRIES,
  MAX_FRAME_BYTES,
  MAX_SYNC_LIMIT,
  SYNC_PAGE_HEADER_BYTES,
} from "../protocol/constants.js";
import type { CarriedReport, Entry } from "../protocol/envelope.js";
import type { SignedReport } from "../protocol/report.js";
import {
  entryBytes,
  type SyncPage,
  type SyncRequest,
  sealSyncPage,
  sealSyncRequest,
} from "../protocol/sync.js";
import type { LoggedReport, StateStore, SyncCursor } from "../state/store.js";
import type { FriendLink } from "../transport/friend-link.js";
import { forwardTargets } from "../trust/rules.js";
import type { Logger } from "../util/logger.js";
import { staysHere } from "./import-source.js";
import type { Verdicts } from "./verify-pool.js";

/**
 * Catch-up sync (docs/protocol.md section 13): each node asks each friend, when its link to the
 * friend connects and every `sync_interval` while connected, for the part of the friend's log it has
 * not taken in, and answers the same questions from its own log. The cursor of each friend's log
 * lives in the store and moves only when a page's reports are committed, so restarts, crashes and
 * lost messages on either side cost a repeat, never a report.
 *
 * Flow control is the requester's: it asks for at most SYNC_PAGE_LIMIT entries and asks again only
 * when it has taken those in, so however far behind it is, neither side holds more than one answer.
 */

/** Entries asked for per request: 16 pages of 64, about 150 ms of signature checks. */
export const SYNC_PAGE_LIMIT = MAX_SYNC_LIMIT;
/** How long the requester waits for the next page of an answer before it gives the request up. */
export const SYNC_ANSWER_TIMEOUT_MS = 15_000;
/** After a request was given up: first wait before asking again (doubles up to sync_interval). */
export const SYNC_RETRY_FIRST_MS = 1_000;
/** Stored reports re-checked per event-loop turn while an answer is built: live traffic goes between. */
const ANSWER_SLICE = 16;
/** Sync requests a friend may send per second (burst as many): a request costs a store read. */
const REQUESTS_PER_SECOND = 10;
/**
 * A request from a friend makes us ask it back, unless we asked it this recently (which also ends
 * the exchange: the friend's request answered ours, it does not start another round).
 */
const ASK_BACK_AFTER_MS = 1_000;
/** Our request still without a page when the friend asks us: after this long it is asked again. */
const UNANSWERED_MS = 5_000;

const NO_LOG = Buffer.alloc(16);

/** What the sync needs of a friend. */
export interface SyncFriend {
  readonly key: string;
  readonly signingKey: Buffer;
  readonly config: { readonly name: string };
  readonly link: FriendLink;
}

/** Where a catch-up with one friend stands, for `status`. */
export interface SyncStatus {
  /** `never`: no sync finished yet; `syncing`: a request is out; `behind`: the last one was given up. */
  readonly state: "never" | "syncing" | "caught-up" | "behind";
  /** When the last sync with this friend reached the end of its log (local ms). */
  readonly caughtUpAt: number | undefined;
  /** Reports received in sync pages from this friend since start. */
  readonly received: number;
  /** Reports sent to this friend in answers since start. */
  readonly sent: number;
}

interface Outstanding {
  readonly requestId: Buffer;
  /** Entries the friend may still send for this request. */
  remaining: number;
  timer: NodeJS.Timeout;
  /** The last page of the answer has arrived. */
  ended: boolean;
  readonly sentAt: number;
  /** Pages of the answer received so far. */
  pages: number;
}

interface FriendSync {
  outstanding: Outstanding | undefined;
  cursor: SyncCursor | undefined;
  state: SyncStatus["state"];
  caughtUpAt: number | undefined;
  received: number;
  sent: number;
  /** Entries that arrived in the current sync run (a run: requests until the log's end). */
  runEntries: number;
  retryMs: number;
  /** When we last sent this friend a request (local ms). */
  askedAt: number | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  /** Increases with every answer started: an older answer still being built stops. */
  answer: number;
  readonly requests: TokenBucket;
}

export interface CatchUpOptions {
  readonly store: () => StateStore;
  readonly self: Buffer;
  readonly signer: KeyObject;
  readonly now: () => number;
  readonly log: Logger;
  readonly maxHops: number;
  readonly intervalMs: number;
  /**
   * The re-check of a stored report before it leaves (protocol/check-entry.ts checkStoredReport);
   * false: it must not leave (the caller sets damaged ones aside). `verdicts`: its signature checked
   * ahead by `verify`, when there is one.
   */
  readonly recheck: (report: LoggedReport, now: number, verdicts?: Verdicts) => boolean;
  /**
   * Checks the origin signatures of stored reports about to leave ahead of the re-check, on other
   * threads (node/verify-pool.ts), a page's worth at a time; without it the re-check makes them.
   */
  readonly verify?: (records: readonly SignedReport[]) => Promise<Verdicts>;
}

export class CatchUp {
  readonly #o: CatchUpOptions;
  readonly #byFriend = new Map<string, FriendSync>();
  #timer: NodeJS.Timeout | undefined;
  #friends: () => readonly SyncFriend[] = () => [];
  #stopped = false;

  constructor(options: CatchUpOptions) {
    this.#o = options;
  }

  /** Starts the periodic sync over `friends` (read each time: reloads change them). */
  start(friends: () => readonly SyncFriend[]): void {
    this.#friends = friends;
    this.#timer = setInterval(() => {
      for (const f of this.#friends()) if (f.link.connected) this.request(f);
    }, this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const s of this.#byFriend.values()) {
      clearTimeout(s.outstanding?.timer);
      clearTimeout(s.retryTimer);
    }
  }

  /** A friend left friends.d: its sync state goes (its cursor stays in the store for a return). */
  forget(friendKey: string): void {
    const s = this.#byFriend.get(friendKey);
    if (s === undefined) return;
    clearTimeout(s.outstanding?.timer);
    clearTimeout(s.retryTimer);
    this.#byFriend.delete(friendKey);
  }

  status(friendKey: string): SyncStatus {
    const s = this.#byFriend.get(friendKey);
    if (s === undefined) return { state: "never", caughtUpAt: undefined, received: 0, sent: 0 };
    return { state: s.state, caughtUpAt: s.caughtUpAt, received: s.received, sent: s.sent };
  }

  #sync(friend: SyncFriend): FriendSync {
    let s = this.#byFriend.get(friend.key);
    if (s === undefined) {
      s = {
        outstanding: undefined,
        cursor: undefined,
        state: "never",
        caughtUpAt: undefined,
        received: 0,
        sent: 0,
        runEntries: 0,
        retryMs: SYNC_RETRY_FIRST_MS,
        askedAt: undefined,
        retryTimer: undefined,
        answer: 0,
        requests: new TokenBucket(
          { reportsPerSecond: REQUESTS_PER_SECOND, burst: REQUESTS_PER_SECOND },
          this.#o.now(),
        ),
      };
      this.#byFriend.set(friend.key, s);
    }
    return s;
  }

  #cursor(friend: SyncFriend, s: FriendSync): SyncCursor {
    s.cursor ??= this.#o.store().syncCursor(friend.key) ?? { logId: NO_LOG, after: 0 };
    return s.cursor;
  }

  /** A store transaction was rolled back: cursors are read again from the store. */
  resync(): void {
    for (const s of this.#byFriend.values()) s.cursor = undefined;
  }

  /**
   * Asks a friend for what its log holds for us after our cursor; nothing while a request is out.
   * `from`: ask from there instead (the end of an answer that has arrived but is still being taken
   * in), so the friend prepares the next answer while this node checks the last one.
   */
  request(friend: SyncFriend, from?: SyncCursor): void {
    if (this.#stopped) return;
    const s = this.#sync(friend);
    if (s.outstanding !== undefined && !(from !== undefined && s.outstanding.ended)) return;
    clearTimeout(s.outstanding?.timer);
    clearTimeout(s.retryTimer);
    s.retryTimer = undefined;
    let cursor: SyncCursor;
    try {
      cursor = from ?? this.#cursor(friend, s);
    } catch (err: unknown) {
      this.#o.log.error("cannot read the sync cursor; asking again later", { error: String(err) });
      this.#giveUp(friend, s);
      return;
    }
    const request: SyncRequest = {
      from: this.#o.self,
      to: friend.signingKey,
      limit: SYNC_PAGE_LIMIT,
      logId: cursor.logId,
      after: cursor.after,
      requestId: crypto.randomBytes(8),
    };
    s.outstanding = {
      requestId: request.requestId,
      remaining: request.limit,
      timer: this.#answerTimer(friend, s),
      ended: false,
      sentAt: this.#o.now(),
      pages: 0,
    };
    if (s.state !== "behind") s.state = "syncing";
    s.askedAt = this.#o.now();
    friend.link.sendSyncRequest(sealSyncRequest(request, this.#o.signer));
    this.#o.log.debug("sync request", { friend: friend.config.name, after: cursor.after });
  }

  #answerTimer(friend: SyncFriend, s: FriendSync): NodeJS.Timeout {
    const timer = setTimeout(() => {
      if (s.outstanding?.timer !== timer) return;
      this.#o.log.debug("sync answer timed out", { friend: friend.config.name });
      this.#giveUp(friend, s);
    }, SYNC_ANSWER_TIMEOUT_MS);
    timer.unref();
    return timer;
  }

  #drop(s: FriendSync): void {
    clearTimeout(s.outstanding?.timer);
    s.outstanding = undefined;
  }

  /** The request is over without reaching the end of the log: ask again after a backoff. */
  #giveUp(friend: SyncFriend, s: FriendSync): void {
    this.#drop(s);
    s.state = "behind";
    if (this.#stopped || s.retryTimer !== undefined) return;
    s.retryTimer = setTimeout(() => {
      s.retryTimer = undefined;
      this.request(friend);
    }, s.retryMs);
    s.retryTimer.unref();
    s.retryMs = Math.min(s.retryMs * 2, this.#o.intervalMs);
  }

  /**
   * Before a page's signature is checked: is it part of the answer we wait for, within what we
   * asked? Counts its entries against the request. Section 13.4: otherwise `unsolicited`.
   */
  solicited(friend: SyncFriend, page: SyncPage): boolean {
    const out = this.#byFriend.get(friend.key)?.outstanding;
    if (out === undefined || out.ended || !page.requestId.equals(out.requestId)) return false;
    if (page.entries.length > out.remaining) return false;
    out.remaining -= page.entries.length;
    out.pages++;
    if (page.last) out.ended = true;
    // An answer that keeps coming is alive: its time runs from the latest page.
    const s = this.#byFriend.get(friend.key)!;
    clearTimeout(out.timer);
    out.timer = this.#answerTimer(friend, s);
    return true;
  }

  /**
   * Our link to the friend completed a handshake (first connection or a reconnect). A request of
   * ours still without any page may have gone into the connection that died: ask again now rather
   * than after SYNC_ANSWER_TIMEOUT_MS.
   */
  connected(friend: SyncFriend): void {
    const s = this.#sync(friend);
    if (s.outstanding !== undefined && s.outstanding.pages === 0) this.#drop(s);
    this.request(friend);
  }

  /**
   * A page passed its checks (signature included): when it ends an answer that says the log holds
   * more, the next request leaves at once, from where this answer ends (pipelining; the cursor
   * still moves only as pages are taken in, and a gap is asked again at the end).
   */
  arrived(friend: SyncFriend, page: SyncPage): void {
    if (page.last && page.more) this.request(friend, { logId: page.logId, after: page.upto });
  }

  /**
   * Inside the store transaction that applied a page's reports: moves the cursor when the page
   * continues it (or starts the friend's log over), so the cursor is committed with the reports.
   */
  pageTakenIn(friend: SyncFriend, page: SyncPage, now: number): void {
    const s = this.#sync(friend);
    s.received += page.entries.length;
    s.runEntries += page.entries.length;
    const cursor = this.#cursor(friend, s);
    const continues = page.logId.equals(cursor.logId) && page.after === cursor.after;
    const startsOver = !page.logId.equals(cursor.logId) && page.after === 0;
    if (!continues && !startsOver) return;
    const next = { logId: Buffer.from(page.logId), after: page.upto };
    this.#o.store().setSyncCursor(friend.key, next, now);
    s.cursor = next;
  }

  /** After the last page of an answer is committed: ask for more, or note that we are caught up. */
  answerTakenIn(friend: SyncFriend, page: SyncPage): void {
    const s = this.#sync(friend);
    // Another request is out already: the pipelined next one, or a newer one after a failure.
    if (s.outstanding === undefined || !s.outstanding.requestId.equals(page.requestId)) return;
    clearTimeout(s.outstanding.timer);
    s.outstanding = undefined;
    const reached = s.cursor !== undefined && s.cursor.after === page.upto;
    if (page.more || !reached) {
      this.request(friend);
      return;
    }
    s.state = "caught-up";
    s.caughtUpAt = this.#o.now();
    s.retryMs = SYNC_RETRY_FIRST_MS;
    if (s.runEntries > 0)
      this.#o.log.info("caught up with friend", { friend: friend.config.name, reports: s.runEntries });
    s.runEntries = 0;
  }

  /** Taking a page in failed (store write): the request is given up and asked again later. */
  pageFailed(friend: SyncFriend): void {
    this.resync();
    this.#giveUp(friend, this.#sync(friend));
  }

  /**
   * A friend asks for our log after its cursor (already verified). Returns false when the friend
   * asks more often than REQUESTS_PER_SECOND (refused as `rate-limited`). The answer is built in
   * slices between other work and replaces any earlier answer to this friend still waiting;
   * `beforePages` runs once the request is admitted, before the first page is queued.
   */
  answer(friend: SyncFriend, request: SyncRequest, beforePages?: () => void): boolean {
    const s = this.#sync(friend);
    const now = this.#o.now();
    if (s.requests.available(now) < 1) return false;
    s.requests.take(1, now);
    beforePages?.();
    const generation = ++s.answer;
    void this.#answer(friend, s, request, generation).catch((err: unknown) => {
      this.#o.log.error("cannot answer a sync request", { friend: friend.config.name, error: String(err) });
    });
    // A friend that asks has just (re)connected to us: the other direction may have gaps too. A
    // request of ours still unanswered was most likely answered into a dead connection: ask again.
    const out = s.outstanding;
    if (out !== undefined && out.pages === 0 && now - out.sentAt > UNANSWERED_MS) this.#drop(s);
    if (s.askedAt === undefined || now - s.askedAt > ASK_BACK_AFTER_MS) this.request(friend);
    return true;
  }

  async #answer(friend: SyncFriend, s: FriendSync, request: SyncRequest, generation: number): Promise<void> {
    const store = this.#o.store();
    const logId = store.logId();
    // A cursor in another log (ours was wiped, or the friend never synced) starts from the beginning.
    const start = request.logId.equals(logId) ? request.after : 0;
    const rows = store.logAfter(start, this.#o.now(), request.limit);
    // A row may give more than one entry (a weaker copy with a shorter path too): the answer stops
    // before a row whose entries would pass the limit, and says there is more.
    let more = rows.length === request.limit;
    let given = 0;
    const requestId = Buffer.from(request.requestId);
    const from = this.#o.self;
    let pageAfter = start;
    let covered = start;
    let entries: Entry[] = [];
    let reports: CarriedReport[] = [];
    let bytes = SYNC_PAGE_HEADER_BYTES;
    let first = true;
    // What each row gives this friend; the signatures of those that give something are checked
    // ahead, a page's worth of rows per batch, while earlier pages are built and sent.
    const rowEntries = rows.map((row) => this.#entriesFor(friend, row));
    const verdicts: Promise<Verdicts>[] = [];
    for (let at = 0; this.#o.verify !== undefined && at < rows.length; at += MAX_ENTRIES) {
      const leaving = rows.slice(at, at + MAX_ENTRIES).filter((_, i) => rowEntries[at + i]!.length > 0);
      verdicts.push(this.#o.verify(leaving.map((row) => row.signed)));
    }
    let verdict: Verdicts | undefined;
    const send = (upto: number, last: boolean): void => {
      const page: SyncPage = {
        from,
        to: friend.signingKey,
        requestId,
        logId,
        after: pageAfter,
        upto,
        last,
        more,
        entries,
      };
      friend.link.sendSyncPages([sealSyncPage(page, reports, this.#o.signer)], first);
      s.sent += entries.length;
      first = false;
      pageAfter = upto;
      entries = [];
      reports = [];
      bytes = SYNC_PAGE_HEADER_BYTES;
    };
    for (let i = 0; i < rows.length; i++) {
      if (i % MAX_ENTRIES === 0 && verdicts.length > 0) {
        verdict = await verdicts[i / MAX_ENTRIES]!;
        if (this.#stopped || s.answer !== generation) return;
      }
      if (i > 0 && i % ANSWER_SLICE === 0) {
        await nextTurn();
        if (this.#stopped || s.answer !== generation) return;
      }
      const row = rows[i]!;
      const all = rowEntries[i]!;
      // A limit smaller than one row's copies still moves on: the best copies that fit.
      const giving = given === 0 ? all.slice(0, request.limit) : all;
      if (given + giving.length > request.limit) {
        more = true;
        break;
      }
      if (giving.length > 0 && this.#o.recheck(row, this.#o.now(), verdict)) {
        for (const entry of giving) {
          const size = entryBytes(entry);
          if (entries.length === MAX_ENTRIES || bytes + size > MAX_FRAME_BYTES) send(covered, false);
          entries.push(entry);
          reports.push({ bytes: row.signed.bytes, signature: row.signed.signature });
          bytes += size;
          given++;
        }
      }
      covered = row.seq;
    }
    send(covered, true);
  }

  /**
   * The entries our log holds for this friend (section 13.1): each copy held that travels on, by
   * the forwarding rules of section 12.2: the best one, and each weaker one with a shorter path.
   */
  #entriesFor(friend: SyncFriend, row: LoggedReport): Entry[] {
    const copies = [{ trust: row.trust, path: row.path }, ...row.shorter.filter((c) => c.path !== undefined)];
    const entries: Entry[] = [];
    for (const copy of copies) {
      const path = copy.path as readonly Buffer[];
      if (staysHere(path)) continue;
      const pathKeys = new Set(path.map((k) => k.toString("hex")));
      const fromKey = path.length === 0 ? undefined : path[path.length - 1]!.toString("hex");
      const targets = forwardTargets([friend], pathKeys, path.length, copy.trust, this.#o.maxHops, fromKey);
      if (targets.length > 0)
        entries.push({ id: row.signed.id, trust: copy.trust, path: [...path, this.#o.self] });
    }
    return entries;
  }
}
