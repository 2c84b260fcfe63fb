/**
 * What each friend is worth to this node, from the store's tallies (docs/trust.md, "What each friend
 * is worth"): how many IPs it brought that this node's own jails later banned too (confirmations),
 * how far ahead of the local detection its report came (median lead time), how many bans here its
 * reports took part in, and what of its traffic was refused, by reason code. Input for choosing a
 * friend's `trust`. `friendWorth()` returns a plain, versioned object for `status`, JSON and metrics.
 */
import { shortId } from "../keys/identity.js";
import type { StateStore, StoredContribution, StoredFriendWorth } from "../state/store.js";
import { VIA_SELF } from "../trust/rules.js";
import { importName, importSourceOf } from "./import-source.js";

export const FRIEND_WORTH_VERSION = 1;

export interface FriendWorthEntry {
  /** The friend's name in friends.d, "import (trust T)" for imported reports, or "?" for a friend removed since. */
  readonly name: string;
  /** Short id of its signing key (first 12 hex digits of its SHA-256, like node ids). */
  readonly id: string;
  /** Reports whose first copy here came through this friend, since the store was created. */
  readonly brought: number;
  /** IPs it brought that a jail of this node later banned too (a local report of the IP). */
  readonly confirmed: number;
  /** confirmed / brought, 0-1, or null before it brought anything. */
  readonly confirmedShare: number | null;
  /** Median of the kept confirmations' lead times, seconds (negative: the local jail was first); null without confirmations. */
  readonly leadSecondsMedian: number | null;
  /** Confirmations the median is taken over (the newest MAX_LEAD_SAMPLES are kept). */
  readonly leadSamples: number;
  /** Bans decided here with this friend's contribution in the score. */
  readonly bans: number;
  /** Messages and reports from it refused, by reject code (docs/protocol.md section 11). */
  readonly rejected: Readonly<Record<string, number>>;
  readonly rejectedTotal: number;
}

export interface FriendWorthReport {
  readonly version: typeof FRIEND_WORTH_VERSION;
  /** Configured friends first (in friends.d order), then imports and friends removed since. */
  readonly friends: readonly FriendWorthEntry[];
}

/** Median of a list of numbers; undefined for an empty one. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Refusals are counted in memory as they happen (a flood of bad messages must not cost a store write
 * each) and added to the store by flush(), which the node runs once a minute and at stop.
 */
export class RejectionTally {
  readonly #pending = new Map<string, Map<string, number>>();

  add(friend: string, code: string): void {
    let codes = this.#pending.get(friend);
    if (codes === undefined) {
      codes = new Map();
      this.#pending.set(friend, codes);
    }
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }

  /** Refusals not yet in the store: friend key hex → code → count. */
  get pending(): ReadonlyMap<string, ReadonlyMap<string, number>> {
    return this.#pending;
  }

  /** Adds the pending counts to the store in one transaction; kept for the next try when it throws. */
  flush(store: Pick<StateStore, "transaction" | "addRejections">): void {
    if (this.#pending.size === 0) return;
    store.transaction(() => {
      for (const [friend, codes] of this.#pending)
        for (const [code, count] of codes) store.addRejections(friend, code, count);
    });
    this.#pending.clear();
  }
}

/**
 * Every friend's worth. `friends` are the configured ones (name and signing key hex), listed even
 * before they brought anything; `pending` adds refusals not yet flushed to the store. Throws what
 * the store's read throws (StoreDamagedError).
 */
export function friendWorth(
  store: Pick<StateStore, "friendWorth">,
  friends: readonly { readonly name: string; readonly key: string }[] = [],
  pending: ReadonlyMap<string, ReadonlyMap<string, number>> = new Map(),
): FriendWorthReport {
  const stored = new Map(store.friendWorth().map((w) => [w.friend, w]));
  const keys = [
    ...friends.map((f) => f.key),
    ...[...stored.keys()].filter((k) => !friends.some((f) => f.key === k)),
  ];
  for (const key of pending.keys()) if (!keys.includes(key)) keys.push(key);
  const nameOf = (key: string): string => {
    const configured = friends.find((f) => f.key === key);
    if (configured !== undefined) return configured.name;
    const imported = importSourceOf(key);
    return imported === undefined ? "?" : importName(imported);
  };
  return {
    version: FRIEND_WORTH_VERSION,
    friends: keys.map((key) => entryOf(key, nameOf(key), stored.get(key), pending.get(key))),
  };
}

function entryOf(
  key: string,
  name: string,
  w: StoredFriendWorth | undefined,
  pending: ReadonlyMap<string, number> | undefined,
): FriendWorthEntry {
  const rejected: Record<string, number> = { ...(w?.rejected ?? {}) };
  for (const [code, count] of pending ?? []) rejected[code] = (rejected[code] ?? 0) + count;
  const brought = w?.brought ?? 0;
  const confirmed = w?.confirmed ?? 0;
  const leads = w?.leadTimesMs ?? [];
  const medianMs = median(leads);
  return {
    name,
    id: shortId(Buffer.from(key, "hex")),
    brought,
    confirmed,
    confirmedShare: brought === 0 ? null : Math.round((confirmed / brought) * 1000) / 1000,
    leadSecondsMedian: medianMs === undefined ? null : Math.round(medianMs) / 1000,
    leadSamples: leads.length,
    bans: w?.bans ?? 0,
    rejected,
    rejectedTotal: Object.values(rejected).reduce((n, c) => n + c, 0),
  };
}

/** The worth as a table for people (`f2bp2p status --worth`). */
export function formatWorthTable(report: FriendWorthReport): string {
  const head = ["friend", "id", "brought", "confirmed", "share", "lead median", "bans", "rejected"];
  const rows = report.friends.map((f) => [
    f.name,
    f.id,
    String(f.brought),
    String(f.confirmed),
    f.confirmedShare === null ? "-" : `${Math.round(f.confirmedShare * 100)}%`,
    f.leadSecondsMedian === null ? "-" : `${f.leadSecondsMedian} s`,
    String(f.bans),
    f.rejectedTotal === 0
      ? "0"
      : `${f.rejectedTotal} (${Object.entries(f.rejected)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([code, n]) => `${code} ${n}`)
          .join(", ")})`,
  ]);
  if (rows.length === 0) return "no friends\n";
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join("\n")}\n`;
}

type WorthWriter = Pick<StateStore, "addFriendWorth" | "addLeadTime">;

/** The friends (keys hex) an IP's contributions came through, each once; our own is not one. */
function friendsIn(contributions: readonly StoredContribution[]): Map<string, StoredContribution> {
  const byFriend = new Map<string, StoredContribution>();
  for (const c of contributions) {
    if (c.via === VIA_SELF) continue;
    const held = byFriend.get(c.via);
    if (held === undefined || c.firstSeen < held.firstSeen) byFriend.set(c.via, c);
  }
  return byFriend;
}

/**
 * A local jail banned `contributions`' IP at `detectedAt` (ms): each friend whose report of it is
 * held gets one confirmation, with lead time = detectedAt − when its report first came. Call inside
 * the store transaction of the local report, before our own contribution is added, and only for the
 * first local report of the IP within its lifetime (a repeat is a duplicate, not a confirmation).
 */
export function creditConfirmations(
  store: WorthWriter,
  contributions: readonly StoredContribution[],
  detectedAt: number,
  now: number,
): void {
  for (const [friend, c] of friendsIn(contributions)) {
    store.addFriendWorth(friend, { confirmed: 1 });
    store.addLeadTime(friend, now, detectedAt - c.firstSeen);
  }
}

/** A ban was decided with `contributions` in the score: each friend among them gets one ban. */
export function creditBan(store: WorthWriter, contributions: readonly StoredContribution[]): void {
  for (const friend of friendsIn(contributions).keys()) store.addFriendWorth(friend, { bans: 1 });
}
