import type { ControlResponse } from "../node/control-protocol.js";

/** The parts of the node's `status` answer the human view reads (docs/json.md, status). */
interface StatusShape {
  name: string;
  id: string;
  listen: string;
  threshold: number;
  reports: number;
  ips: number;
  store: { bans: number; pendingBans: number; setAside: number; pendingMessages: number };
  stats: {
    messages: number;
    accepted: number;
    noGain: number;
    syncReports: number;
    syncNoGain: number;
    unbans: number;
    echoesStopped: number;
    revocations?: number;
    bans: number;
    localReports: number;
    rejected: Record<string, number>;
    storeErrors: number;
    bansLogErrors: number;
    setAside: number;
  };
  clock: {
    own: { state: string; source?: string };
    friends: Record<string, { refused: Record<string, number>; lastOffsetMs: number }>;
  };
  watch?: { file: string; format: string; linesRead: number; bansReported: number; warning?: string };
  spool?: { dir: string; waiting: number | string; takenIn: number; setAside: number };
  friends: {
    name: string;
    endpoint: string;
    trust: number;
    connected: boolean;
    link: string;
    why?: string;
    sent: number;
    queued: number;
    dropped: number;
    expired: number;
    sync: { state: string; caughtUpAt?: number; received: number; sent: number };
    reportsHeld: number;
    rejected: Record<string, number>;
    faults: number;
    neverBanList: {
      ranges: string[];
      expires: string;
      inForce: boolean;
      appliesToAll: boolean;
    } | null;
  }[];
  neverBanShared: string[];
}

const counts = (byCode: Record<string, number>): string =>
  Object.entries(byCode)
    .map(([code, n]) => `${code} ${n}`)
    .join(", ") || "none";

/** `f2bp2p status` for a person: the node, its counters, then one row per friend. */
export function formatStatus(answer: Record<string, unknown>): string {
  const s = answer as unknown as StatusShape;
  const lines = [
    `node ${s.name} (${s.id}) listening on ${s.listen}, threshold ${s.threshold}`,
    `store: ${s.reports} live report(s) on ${s.ips} address(es); ${s.store.bans} ban(s) written, ` +
      `${s.store.pendingBans} waiting for the bans log, ${s.store.setAside} report(s) set aside, ` +
      `${s.store.pendingMessages} message(s) waiting for the store`,
    `since start: ${s.stats.messages} message(s) in, ${s.stats.accepted} report(s) accepted, ` +
      `${s.stats.noGain} with nothing new, ${s.stats.localReports} local report(s), ${s.stats.bans} ban(s) written`,
    `catch-up sync: ${s.stats.syncReports} report(s) received in sync pages, ${s.stats.syncNoGain} of them already held`,
    `unbans written: ${s.stats.unbans}; revocations: ${s.stats.revocations ?? 0}; echoes stopped: ${s.stats.echoesStopped} (local bans of addresses banned here on friends' reports, not reported again)`,
    `rejected: ${counts(s.stats.rejected)}`,
    `write errors: store ${s.stats.storeErrors}, bans log ${s.stats.bansLogErrors}`,
    `clock: ${s.clock.own.state}${s.clock.own.source === undefined ? "" : ` (${s.clock.own.source})`}`,
  ];
  for (const [friend, skew] of Object.entries(s.clock.friends))
    lines.push(
      `  ${friend}: refused for time: ${counts(skew.refused)}; last offset ${Math.round(skew.lastOffsetMs / 1000)} s`,
    );
  if (s.spool !== undefined)
    lines.push(
      `spool ${s.spool.dir}: ${s.spool.waiting} waiting, ${s.spool.takenIn} taken in, ${s.spool.setAside} set aside`,
    );
  if (s.watch !== undefined)
    lines.push(
      `watch ${s.watch.file}: ${s.watch.format}, ${s.watch.linesRead} line(s) read, ${s.watch.bansReported} ban(s) reported` +
        (s.watch.warning === undefined ? "" : `; ${s.watch.warning}`),
    );
  lines.push(
    `never-ban list sent to friends: ${s.neverBanShared.length === 0 ? "empty" : s.neverBanShared.join(", ")}`,
  );
  if (s.friends.length === 0) {
    lines.push("no friends in friends.d");
    return `${lines.join("\n")}\n`;
  }
  const header = [
    "FRIEND",
    "LINK",
    "SYNC",
    "TRUST",
    "SENT",
    "QUEUED",
    "DROPPED",
    "HELD",
    "REJECTED",
    "ENDPOINT",
  ];
  const rows = s.friends.map((f) => [
    f.name,
    f.link,
    f.sync.state,
    String(f.trust),
    String(f.sent),
    String(f.queued),
    String(f.dropped + f.expired),
    String(f.reportsHeld),
    f.faults > 0 ? `${counts(f.rejected)} (${f.faults} fault(s))` : counts(f.rejected),
    f.endpoint,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  lines.push("", line(header), ...rows.map(line));
  for (const f of s.friends) if (f.why !== undefined && !f.connected) lines.push(`${f.name}: ${f.why}`);
  for (const f of s.friends) {
    const list = f.neverBanList;
    if (list === null) continue;
    const reach = list.appliesToAll
      ? "no report bans them here"
      : "its reports and those relayed through it do not ban them";
    const ranges = list.ranges.length === 0 ? "empty" : list.ranges.join(", ");
    lines.push(
      list.inForce
        ? `${f.name} never-ban list, until ${list.expires} (${reach}): ${ranges}`
        : `${f.name} never-ban list expired at ${list.expires}: ${ranges}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** `f2bp2p status --ip IP` for a person. */
export function formatScore(s: Extract<ControlResponse, { status: "score" }>): string {
  const lines = [
    `${s.ip}: score ${s.score} (threshold ${s.threshold}), ${s.banned ? "banned" : "not banned"}`,
  ];
  if (s.heldBackBy !== undefined)
    lines.push(
      `  not banned: friend ${s.heldBackBy}'s never-ban list holds the ban back` +
        (s.heldBackForAll
          ? " (from every report here: never_ban_applies_to_all)"
          : ` (from its own reports and those relayed through it)`),
    );
  for (const o of s.origins)
    lines.push(`  origin ${o.origin}: trust ${o.trust}, ${o.hops} hop(s), via ${o.via}`);
  for (const r of s.revoked ?? [])
    lines.push(
      `  origin ${r.origin}: revoked at ${r.time} (${r.reason === "" ? "no reason given" : r.reason})`,
    );
  return `${lines.join("\n")}\n`;
}
