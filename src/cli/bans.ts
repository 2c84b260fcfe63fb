import { findConfigPath, loadFriends, loadNodeConfig } from "../config/load.js";
import { shortId } from "../keys/identity.js";
import { importName, importSourceOf } from "../node/import-source.js";
import { parseIp } from "../protocol/ip.js";
import { SqliteStore } from "../state/sqlite-store.js";
import type { BanRecord, StoredContribution } from "../state/store.js";
import { ipScore, VIA_SELF } from "../trust/rules.js";
import type { BansSortKey } from "./bans-options.js";
import { UsageError } from "./errors.js";
import { jsonDocument } from "./output.js";

export interface BansOptions {
  readonly config: string | undefined;
  readonly ip: string | undefined;
  readonly banned: boolean;
  readonly sort: BansSortKey;
  readonly json: boolean;
}

/** One IP as `bans` shows it. Times are ISO 8601 UTC strings; null where there is none. */
export interface BansEntry {
  readonly ip: string;
  readonly score: number;
  /** "written": its line is in the bans log; "pending": decided, line not written yet (disk full?);
   * "withheld": on the never-ban list, lifted, or held back by a friend's never-ban list; "no": below the threshold. */
  readonly ban: "written" | "pending" | "withheld" | "no";
  /** Only when a friend's never-ban list holds the ban back (docs/protocol.md section 18): its name. */
  readonly heldBackBy?: string;
  readonly bannedAt: string | null;
  readonly firstSeen: string;
  readonly expires: string;
  readonly origins: readonly { origin: string; trust: number; hops: number; via: string }[];
}

/** A revocation held: its origin's reports of the IP up to `time` no longer count here. */
export interface RevokedEntry {
  readonly ip: string;
  readonly origin: string;
  /** When the origin revoked them (its clock), ISO 8601 UTC. */
  readonly time: string;
  readonly reason: string;
  /** When this node forgets the revocation (after every report it revokes has expired). */
  readonly expires: string;
}

/**
 * `f2bp2p bans`: what the node knows, read from its state store (read-only; works while the node runs
 * and while it is stopped). Needs read access to state_dir: root or the node's own user.
 */
export function bans(options: BansOptions, env: NodeJS.ProcessEnv): string {
  const config = loadNodeConfig(findConfigPath(options.config, env));
  let ipFilter: string | undefined;
  if (options.ip !== undefined) {
    const ip = parseIp(options.ip);
    if (ip === null) throw new UsageError(`'${options.ip}' is not an IPv4 or IPv6 address`);
    ipFilter = ip.text;
  }
  // Only trust and names are needed: a key no friend file can have stands in for our own.
  const friends = loadFriends(config.friendsDir, { signingKey: new Uint8Array(32), curveKey: "" });
  const byKey = new Map(friends.map((f) => [Buffer.from(f.signingKey).toString("hex"), f]));
  const trustOfVia = (via: string): number => byKey.get(via)?.trust ?? importSourceOf(via)?.trust ?? 0;
  const nameOfVia = (via: string): string => {
    if (via === VIA_SELF) return "self";
    const imported = importSourceOf(via);
    return byKey.get(via)?.name ?? (imported === undefined ? "?" : importName(imported));
  };
  const store = new SqliteStore(config.stateDir, { readOnly: true });
  const entries: BansEntry[] = [];
  const revoked: RevokedEntry[] = [];
  try {
    for (const { ip, contributions, ban } of store.ips(ipFilter)) {
      const entry = toEntry(ip, contributions, ban, trustOfVia, nameOfVia);
      if (!options.banned || entry.ban === "written" || entry.ban === "pending") entries.push(entry);
    }
    // Revoked reports are no ban: `--banned` leaves them out.
    if (!options.banned) {
      for (const r of store.revocationList(ipFilter)) {
        revoked.push({
          ip: r.ip,
          origin: shortId(Buffer.from(r.origin, "hex")),
          time: new Date(r.time).toISOString(),
          reason: r.reason,
          expires: new Date(r.expiresAt).toISOString(),
        });
      }
    }
  } finally {
    store.close();
  }
  sortEntries(entries, options.sort);
  if (options.json) {
    return jsonDocument({ node: config.name, threshold: config.threshold, ips: entries, revoked });
  }
  return formatTable(entries, config.threshold) + formatRevoked(revoked);
}

function toEntry(
  ip: string,
  contributions: readonly StoredContribution[],
  ban: BanRecord | undefined,
  trustOfVia: (via: string) => number,
  nameOfVia: (via: string) => string,
): BansEntry {
  const state =
    ban === undefined ? "no" : ban.withheld ? "withheld" : ban.writtenAt === null ? "pending" : "written";
  return {
    ip,
    score: ipScore(contributions, trustOfVia),
    ban: state,
    ...(ban?.heldBy ? { heldBackBy: nameOfVia(ban.heldBy) } : {}),
    bannedAt: ban?.writtenAt == null ? null : new Date(ban.writtenAt).toISOString(),
    firstSeen: new Date(Math.min(...contributions.map((c) => c.firstSeen))).toISOString(),
    expires: new Date(Math.max(...contributions.map((c) => c.expiresAt))).toISOString(),
    origins: contributions.map((c) => ({
      origin: shortId(Buffer.from(c.origin, "hex")),
      trust: c.trust,
      hops: c.hops,
      via: nameOfVia(c.via),
    })),
  };
}

function formatRevoked(revoked: readonly RevokedEntry[]): string {
  if (revoked.length === 0) return "";
  const lines = revoked.map(
    (r) =>
      `  ${r.ip}: origin ${r.origin} revoked its report(s) at ${r.time}` +
      ` (${r.reason === "" ? "no reason given" : r.reason}); held until ${r.expires}`,
  );
  return `revoked reports (no longer counted):\n${lines.join("\n")}\n`;
}

function sortEntries(entries: BansEntry[], key: BansSortKey): void {
  const compare: Record<BansSortKey, (a: BansEntry, b: BansEntry) => number> = {
    ip: () => 0, // the store yields IP order already
    score: (a, b) => b.score - a.score,
    "first-seen": (a, b) => a.firstSeen.localeCompare(b.firstSeen),
    expires: (a, b) => a.expires.localeCompare(b.expires),
  };
  entries.sort(compare[key]);
}

function formatTable(entries: readonly BansEntry[], threshold: number): string {
  if (entries.length === 0) return "no addresses with live reports\n";
  const rows = entries.map((e) => [
    e.ip,
    String(e.score),
    e.ban === "written" ? `yes ${e.bannedAt}` : e.heldBackBy ? `held back by ${e.heldBackBy}'s list` : e.ban,
    e.firstSeen,
    e.expires,
    e.origins
      .map((o) => `${o.origin} ${o.trust} via ${o.via} (${o.hops} hop${o.hops === 1 ? "" : "s"})`)
      .join(", "),
  ]);
  const header = ["IP", "SCORE", "BANNED", "FIRST SEEN", "EXPIRES", "ORIGINS"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return `${[line(header), ...rows.map(line)].join("\n")}\n${entries.length} address(es); threshold ${threshold}\n`;
}
