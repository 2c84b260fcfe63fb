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
  // Local policy, not a protocol error: the sending friend already fills its share of our memory.
  | "over-quota";

export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: RejectCode };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const reject = <T>(code: RejectCode): Result<T> => ({ ok: false, code });
