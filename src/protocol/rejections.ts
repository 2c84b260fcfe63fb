/**
 * Why a message or one of its reports was refused. Every refusal has exactly one code; codes are
 * stable strings that appear in logs and metrics, and docs/protocol.md lists them all.
 */
export type RejectCode =
  // Mostly about the whole message; malformed, bad-version, bad-kind and frame-too-large are also
  // given to a single report inside an envelope that is itself fine.
  | "bad-frame-count"
  | "frame-too-large"
  | "bad-version"
  | "bad-kind"
  | "malformed"
  | "unknown-hop"
  | "wrong-recipient"
  | "bad-hop-signature"
  // One report inside it
  | "id-mismatch"
  | "bad-origin-signature"
  | "field-too-large"
  | "invalid-ip"
  | "invalid-jail"
  | "bad-trust"
  | "bad-path"
  | "path-too-long"
  | "loop"
  | "expired"
  | "from-future"
  | "own-report"
  // A report its origin has revoked (a revocation of it is held here): it must not come back.
  | "revoked"
  // Local policy, not a protocol error: the sending friend already fills its share of our memory.
  | "over-quota"
  // Local policy: the sending friend is over its rate (friend_reports_per_second); not verified.
  | "rate-limited"
  // A sync page this node did not ask for (or no longer waits for): not verified.
  | "unsolicited"
  // A never-ban list with a range wider than /24 (IPv4) or /48 (IPv6) (section 18).
  | "range-too-wide"
  // A never-ban list no newer than the one held from that friend (section 18).
  | "superseded";

export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: RejectCode };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const reject = <T>(code: RejectCode): Result<T> => ({ ok: false, code });

/**
 * Whose doing a refusal is (the distinction gossipsub makes between Reject and Ignore):
 * - `friend-fault`: the message or report breaks the protocol (docs/protocol.md section 10); a
 *   correct sender never sends it, so it counts against the friend that sent it;
 * - `stale`: a correct sender may send it through no fault of its own (clocks, a report that came
 *   back round a cycle, a lifetime set shorter here);
 * - `local-policy`: this node's limits (quota, rate), not the sender's fault by the protocol.
 */
export type RejectSeverity = "friend-fault" | "stale" | "local-policy";

export const REJECT_SEVERITY: Readonly<Record<RejectCode, RejectSeverity>> = {
  "bad-frame-count": "friend-fault",
  "frame-too-large": "friend-fault",
  "bad-version": "friend-fault",
  "bad-kind": "friend-fault",
  malformed: "friend-fault",
  "unknown-hop": "friend-fault",
  "wrong-recipient": "friend-fault",
  "bad-hop-signature": "friend-fault",
  "id-mismatch": "friend-fault",
  "bad-origin-signature": "friend-fault",
  "field-too-large": "friend-fault",
  "invalid-ip": "friend-fault",
  "invalid-jail": "friend-fault",
  "bad-trust": "friend-fault",
  "bad-path": "friend-fault",
  "path-too-long": "stale",
  loop: "stale",
  expired: "stale",
  "from-future": "stale",
  "own-report": "stale",
  // A friend that has not got the revocation yet still holds the report: not its fault.
  revoked: "stale",
  "over-quota": "local-policy",
  "rate-limited": "local-policy",
  // An answer that arrives after its request timed out is late, not wrong.
  unsolicited: "stale",
  "range-too-wide": "friend-fault",
  // A copy delayed behind a newer one: not the sender's fault.
  superseded: "stale",
};
