import type { WatchStatus } from "../ingest/fail2ban-log-watcher.js";
import { shortId } from "../keys/identity.js";
import { MAX_REVOCATION_REASON_BYTES, SIGNATURE_BYTES } from "../protocol/constants.js";
import { parseIp } from "../protocol/ip.js";
import { REJECT_SEVERITY, type RejectCode } from "../protocol/rejections.js";
import type { SignedReport } from "../protocol/report.js";
import { decodeRecord } from "../protocol/revocation.js";
import { sha256 } from "../protocol/signing.js";
import { LINK_STATE_TEXT } from "../transport/link-state.js";
import { VIA_SELF } from "../trust/rules.js";
import { type ControlRequest, type ControlResponse, DEFAULT_REVOKE_REASON } from "./control-protocol.js";
import type { F2bNode } from "./node.js";

/** Maps control requests onto the node: the only place the control socket meets the pipeline. */
export function controlHandler(
  node: F2bNode,
  extra: StatusExtra = {},
): { handle(request: ControlRequest): ControlResponse } {
  return {
    handle(request) {
      if (request.op === "status") return { ok: true, status: "status", node: statusOf(node, extra) };
      if (request.op === "score") return scoreOf(node, request.ip);
      if (request.op === "import") return importInto(node, request);
      if (request.op === "revoke") return revokeOn(node, request);
      const result = node.reportLocal(request.ip, request.jail ?? "");
      switch (result.status) {
        case "invalid-ip":
          return {
            ok: false,
            error: "invalid-ip",
            message: `'${request.ip}' is not an IPv4 or IPv6 address`,
          };
        case "invalid-time": // the control socket never passes a time; kept for completeness
          return { ok: false, error: "bad-request", message: result.reason };
        case "ignored":
          return { ok: true, status: "ignored", ip: request.ip, reason: result.reason };
        case "store-failed":
          return { ok: false, error: "store-failed", message: result.message };
        default:
          return {
            ok: true,
            status: result.status,
            ip: request.ip,
            score: result.score,
            banned: result.banned,
            ...(result.banPending === undefined ? {} : { banPending: result.banPending }),
          };
      }
    },
  };
}

/** Revokes the node's own report(s) of an address (F2bNode.revokeLocal). */
function revokeOn(node: F2bNode, request: Extract<ControlRequest, { op: "revoke" }>): ControlResponse {
  const reason = request.reason ?? DEFAULT_REVOKE_REASON;
  const result = node.revokeLocal(request.ip, reason);
  switch (result.status) {
    case "invalid-ip":
      return { ok: false, error: "invalid-ip", message: `'${request.ip}' is not an IPv4 or IPv6 address` };
    case "invalid-reason":
      return {
        ok: false,
        error: "bad-request",
        message: `reason must be 0-${MAX_REVOCATION_REASON_BYTES} printable ASCII characters`,
      };
    case "store-failed":
      return { ok: false, error: "store-failed", message: result.message };
    case "not-reported":
      return { ok: true, status: "not-reported", ip: parseIp(request.ip)?.text ?? request.ip };
    default:
      return {
        ok: true,
        status: "revoked",
        ip: parseIp(request.ip)?.text ?? request.ip,
        reason,
        score: result.score,
        banned: result.banned,
      };
  }
}

/** Applies one batch of imported reports; each is checked again by the node (importReports). */
function importInto(node: F2bNode, request: Extract<ControlRequest, { op: "import" }>): ControlResponse {
  const reports: SignedReport[] = [];
  let invalid = 0;
  for (const text of request.reports) {
    const raw = Buffer.from(text, "base64");
    const bytes = raw.subarray(0, Math.max(0, raw.length - SIGNATURE_BYTES));
    const decoded = decodeRecord(bytes);
    if (!decoded.ok) {
      invalid++;
      continue;
    }
    reports.push({
      report: decoded.value,
      bytes: Buffer.from(bytes),
      signature: Buffer.from(raw.subarray(bytes.length)),
      id: sha256(bytes),
    });
  }
  const result = node.importReports(reports, { trust: request.trust, relay: request.relay });
  if (result.status === "store-failed") return { ok: false, error: "store-failed", message: result.message };
  return { ok: true, ...result, invalid: result.invalid + invalid };
}

/** What the node knows of one address: its score, whether it is banned, each origin's share. */
function scoreOf(node: F2bNode, ipText: string): ControlResponse {
  const ip = parseIp(ipText);
  if (ip === null)
    return { ok: false, error: "invalid-ip", message: `'${ipText}' is not an IPv4 or IPv6 address` };
  return {
    ok: true,
    status: "score",
    ip: ip.text,
    score: node.ledger.score(ip.text),
    threshold: node.config.threshold,
    banned: node.ledger.isBanned(ip.text),
    origins: node.ledger.contributions(ip.text).map((c) => ({
      origin: shortId(Buffer.from(c.origin, "hex")),
      trust: c.trust,
      hops: c.hops,
      via: c.via === VIA_SELF ? "self" : (node.friends.find((f) => f.key === c.via)?.config.name ?? "?"),
    })),
    ...heldBackOf(node, ip.text),
    revoked: node.ledger.revocations(ip.text).map((r) => ({
      origin: shortId(Buffer.from(r.origin, "hex")),
      time: new Date(r.time).toISOString(),
      reason: r.reason,
    })),
  };
}

/** The friend whose never-ban list holds back the ban of an address (docs/protocol.md section 18), if any. */
function heldBackOf(node: F2bNode, ip: string): { heldBackBy?: string; heldBackForAll?: boolean } {
  const by = node.heldBackBy(ip);
  if (by === undefined) return {};
  const friend = node.friends.find((f) => f.key === by);
  return {
    heldBackBy: friend?.config.name ?? by,
    heldBackForAll: friend?.config.neverBanAppliesToAll ?? false,
  };
}

/** A friend's never-ban list as `status` shows it; null when it sent none. */
function neverBanListStatus(
  node: F2bNode,
  friendKey: string,
  appliesToAll: boolean,
): Record<string, unknown> | null {
  const list = node.neverBanListOf(friendKey);
  if (list === undefined) return null;
  return {
    ranges: list.ranges,
    signed: new Date(list.time).toISOString(),
    expires: new Date(list.expiresAt).toISOString(),
    inForce: list.inForce,
    appliesToAll,
  };
}

/** Parts of `status` that live outside the node (log-watch runs beside it). */
export interface StatusExtra {
  readonly watch?: () => WatchStatus | undefined;
}

export function statusOf(node: F2bNode, extra: StatusExtra = {}): Record<string, unknown> {
  const counts = node.ledger.store.counts();
  const watch = extra.watch?.();
  return {
    name: node.config.name,
    id: node.id,
    listen: node.endpoint,
    threshold: node.config.threshold,
    reports: counts.reports,
    ips: counts.ips,
    store: {
      bans: counts.bans,
      pendingBans: counts.pendingBans,
      setAside: counts.setAside,
      pendingMessages: node.pendingMessages,
    },
    stats: node.stats,
    clock: node.clockSkew.status(),
    ...(watch !== undefined ? { watch } : {}),
    worth: node.friendWorth(),
    neverBanShared: node.sharedNeverBan.map((r) => r.text),
    friends: node.friends.map((f) => ({
      name: f.config.name,
      endpoint: f.config.endpoint,
      trust: f.config.trust,
      connected: f.link.connected,
      link: f.link.state,
      ...(f.link.connected ? {} : { why: LINK_STATE_TEXT[f.link.state] }),
      sent: f.link.sent,
      queued: f.link.queued,
      dropped: f.link.dropped,
      expired: f.link.expired,
      sync: node.syncStatus(f.key),
      neverBanList: neverBanListStatus(node, f.key, f.config.neverBanAppliesToAll),
      reportsHeld: node.ledger.broughtBy(f.key),
      rejected: f.rejected,
      // Refusals a correct friend never causes: a misbehaving or broken friend shows here.
      faults: Object.entries(f.rejected).reduce(
        (n, [code, count]) => n + (REJECT_SEVERITY[code as RejectCode] === "friend-fault" ? (count ?? 0) : 0),
        0,
      ),
    })),
  };
}
