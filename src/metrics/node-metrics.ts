import fs from "node:fs";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { RejectCode } from "../protocol/rejections.js";

/** Prefix of every metric name (docs/metrics.md). */
export const METRIC_PREFIX = "f2bp2p_";

/**
 * Upper bounds (seconds) of the ingest latency buckets: a message is verified and applied in well
 * under a millisecond on an idle node (docs/performance.md); the upper buckets catch a slow disk.
 */
export const INGEST_SECONDS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1];

/** One friend as the metrics see it at scrape time. */
export interface FriendGauge {
  /** The friend's name from friends.d: the only label that names a friend (never its address). */
  readonly name: string;
  readonly connected: boolean;
  /** Reports waiting to be sent to it. */
  readonly queued: number;
  /** Reports sent to it since the node started (its link's count). */
  readonly reportsSent: number;
  /** Messages (envelopes) sent to it since the node started. */
  readonly messagesSent: number;
}

/** What the metrics read from the running node when they are scraped. */
export interface MetricsSource {
  /**
   * The store's counts: live reports; IPs with live reports; IPs whose BAN line is written; IPs
   * whose ban is decided and whose line is not written, or not yet marked written.
   */
  counts(): {
    readonly reports: number;
    readonly ips: number;
    readonly bans: number;
    readonly pendingBans: number;
  };
  /** Files of the state store (database and its write-ahead log); missing ones count 0 bytes. */
  storeFiles(): readonly string[];
  friends(): readonly FriendGauge[];
  /** What each friend is worth (node/friend-worth.ts), read from the store at scrape time. */
  worth?(): readonly FriendWorthGauge[];
}

/** One friend's worth as the metrics show it (docs/trust.md section 11). */
export interface FriendWorthGauge {
  readonly name: string;
  readonly brought: number;
  readonly confirmed: number;
  readonly leadSecondsMedian: number | null;
  readonly bans: number;
}

/**
 * The node's Prometheus metrics, in a registry of their own (nothing global): counters are fed by
 * the functions below as things happen; gauges and the per-friend send counters are read from
 * `source` at each scrape. Names, units and labels: docs/metrics.md.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly #now: () => number;
  readonly #reportsAccepted: Counter;
  readonly #reportsRejected: Counter<"reason">;
  readonly #bansWritten: Counter;
  readonly #unbansWritten: Counter;
  readonly #revocationsAccepted: Counter;
  readonly #catchUpReports: Counter;
  readonly #friendMessagesIn: Counter<"friend">;
  readonly #friendReportsIn: Counter<"friend">;
  readonly #friendRejections: Counter<"friend" | "reason">;
  readonly #friendLastSeen: Gauge<"friend">;
  readonly #ingestSeconds: Histogram;

  /** `now`: the clock in ms since the epoch (Date.now), for `last seen`. */
  constructor(source: MetricsSource, now: () => number) {
    this.#now = now;
    const registers = [this.registry];
    const name = (n: string): string => `${METRIC_PREFIX}${n}`;
    this.#reportsAccepted = new Counter({
      name: name("reports_accepted_total"),
      help: "Reports accepted into the ledger: this host's own and those from friends (a better copy of a known report counts again)",
      registers,
    });
    this.#reportsRejected = new Counter({
      name: name("reports_rejected_total"),
      help: "Messages and reports refused, by reject code (docs/protocol.md)",
      labelNames: ["reason"],
      registers,
    });
    this.#bansWritten = new Counter({
      name: name("bans_written_total"),
      help: "BAN lines written to the bans log",
      registers,
    });
    this.#unbansWritten = new Counter({
      name: name("unbans_written_total"),
      help: "UNBAN lines written to the bans log",
      registers,
    });
    this.#revocationsAccepted = new Counter({
      name: name("revocations_accepted_total"),
      help: "Revocations accepted: origins that took their reports of an address back",
      registers,
    });
    this.#catchUpReports = new Counter({
      name: name("catch_up_reports_total"),
      help: "Reports received by catch-up sync after a link came back",
      registers,
    });
    new Gauge({
      name: name("live_reports"),
      help: "Reports in the store that have not expired",
      registers,
      collect() {
        this.set(source.counts().reports);
      },
    });
    new Gauge({
      name: name("ips_banned"),
      help: "Addresses banned here (as `f2bp2p bans --banned` lists them): BAN line written, or decided and waiting for its line",
      registers,
      collect() {
        const counts = source.counts();
        this.set(counts.bans + counts.pendingBans);
      },
    });
    new Gauge({
      name: name("store_size_bytes"),
      help: "Size of the state store on disk: the database and its write-ahead log",
      registers,
      collect() {
        this.set(source.storeFiles().reduce((sum, file) => sum + fileSize(file), 0));
      },
    });
    const worthGauge = (
      metric: string,
      help: string,
      value: (w: FriendWorthGauge) => number | null,
    ): void => {
      new Gauge({
        name: name(metric),
        help,
        labelNames: ["friend"],
        registers,
        collect() {
          this.reset();
          for (const w of source.worth?.() ?? []) {
            const v = value(w);
            if (v !== null) this.set({ friend: w.name }, v);
          }
        },
      });
    };
    worthGauge(
      "friend_brought_reports",
      "Reports whose first copy here came through the friend, since the store was made",
      (w) => w.brought,
    );
    worthGauge(
      "friend_confirmed_reports",
      "IPs the friend brought that this node's own jails banned later",
      (w) => w.confirmed,
    );
    worthGauge(
      "friend_lead_seconds",
      "Median of how far ahead of the local detection the friend's confirmed reports came",
      (w) => w.leadSecondsMedian,
    );
    worthGauge("friend_bans", "Bans decided here with the friend's contribution in the score", (w) => w.bans);
    new Gauge({
      name: name("friend_connected"),
      help: "1 while the link to the friend is connected, else 0",
      labelNames: ["friend"],
      registers,
      collect() {
        this.reset();
        for (const f of source.friends()) this.set({ friend: f.name }, f.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: name("friend_queue_reports"),
      help: "Reports waiting to be sent to the friend",
      labelNames: ["friend"],
      registers,
      collect() {
        this.reset();
        for (const f of source.friends()) this.set({ friend: f.name }, f.queued);
      },
    });
    new Counter({
      name: name("friend_messages_out_total"),
      help: "Messages sent to the friend since the node started",
      labelNames: ["friend"],
      registers,
      collect() {
        this.reset();
        for (const f of source.friends()) this.inc({ friend: f.name }, f.messagesSent);
      },
    });
    new Counter({
      name: name("friend_reports_out_total"),
      help: "Reports sent to the friend since the node started",
      labelNames: ["friend"],
      registers,
      collect() {
        this.reset();
        for (const f of source.friends()) this.inc({ friend: f.name }, f.reportsSent);
      },
    });
    this.#friendMessagesIn = new Counter({
      name: name("friend_messages_in_total"),
      help: "Messages from the friend that passed its signature check",
      labelNames: ["friend"],
      registers,
    });
    this.#friendReportsIn = new Counter({
      name: name("friend_reports_in_total"),
      help: "Reports in the messages from the friend that passed its signature check",
      labelNames: ["friend"],
      registers,
    });
    this.#friendRejections = new Counter({
      name: name("friend_rejections_total"),
      help: "Messages and reports from the friend refused, by reject code",
      labelNames: ["friend", "reason"],
      registers,
    });
    this.#friendLastSeen = new Gauge({
      name: name("friend_last_seen_seconds"),
      help: "When the last message from the friend passed its signature check, in seconds since the Unix epoch",
      labelNames: ["friend"],
      registers,
    });
    this.#ingestSeconds = new Histogram({
      name: name("ingest_seconds"),
      help: "Time from a message's arrival to its reports being applied in the store transaction, in seconds",
      buckets: INGEST_SECONDS_BUCKETS,
      registers,
    });
  }

  /** One report accepted into the ledger (own or a friend's). */
  reportAccepted(): void {
    this.#reportsAccepted.inc();
  }

  /** One message or report refused with `code`; `friend` when it is known who sent it. */
  reportRejected(code: RejectCode, friend: string | undefined): void {
    this.#reportsRejected.inc({ reason: code });
    if (friend !== undefined) this.#friendRejections.inc({ friend, reason: code });
  }

  /** One BAN line written to the bans log. */
  banWritten(): void {
    this.#bansWritten.inc();
  }

  /** An UNBAN line was written to the bans log (the node's `unban` event). */
  unbanWritten(): void {
    this.#unbansWritten.inc();
  }

  /** A revocation was accepted, this node's own included (the node's `revocation:accepted` event). */
  revocationAccepted(): void {
    this.#revocationsAccepted.inc();
  }

  /**
   * A catch-up sync message from `friend` passed its checks (docs/protocol.md section 13): a request
   * (`reports` 0) or a page of `reports` entries; or a never-ban list (section 18, `reports` 0).
   * Counted as a message in from the friend; the page's reports count as catch-up reports, not as
   * live ones.
   */
  syncMessage(friend: string, reports: number): void {
    this.#friendMessagesIn.inc({ friend });
    this.#friendLastSeen.set({ friend }, Math.floor(this.#now() / 1000));
    this.#catchUpReports.inc(reports);
  }

  /** A message from `friend` passed its signature check: `reports` entries, applied in `seconds`. */
  messageIngested(friend: string, reports: number, seconds: number): void {
    this.#friendMessagesIn.inc({ friend });
    this.#friendReportsIn.inc({ friend }, reports);
    this.#friendLastSeen.set({ friend }, Math.floor(this.#now() / 1000));
    this.#ingestSeconds.observe(seconds);
  }

  /** The exposition text (Prometheus text format 0.0.4) and its content type. */
  async exposition(): Promise<{ text: string; contentType: string }> {
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
