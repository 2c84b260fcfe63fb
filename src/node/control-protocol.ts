/**
 * The local control socket speaks one JSON object per line, one request per connection.
 * Kept free of imports so the `f2bp2p report` client loads nothing it does not need.
 */
export const MAX_CONTROL_LINE = 4096;
/**
 * Records per `import` request: each is base64 of a report or revocation (at most 153 bytes,
 * MAX_RECORD_BYTES) and its signature (64), at most 292 characters, so a full batch stays inside
 * MAX_CONTROL_LINE.
 */
export const IMPORT_BATCH = 12;

/** The reason a revocation carries when the sysadmin gives none (`f2bp2p revoke` without --reason). */
export const DEFAULT_REVOKE_REASON = "revoked by the operator";

export type ControlRequest =
  | { op: "report"; ip: string; jail?: string }
  | { op: "status" }
  | { op: "score"; ip: string }
  /** Revoke this node's own report(s) of an address (docs/protocol.md section 17). */
  | { op: "revoke"; ip: string; reason?: string }
  /** Reports from an export file, verified by the client and again by the node (base64 of bytes ‖ signature). */
  | { op: "import"; trust: number; relay: boolean; reports: string[] };

export type ControlResponse =
  | {
      ok: true;
      status: "accepted" | "duplicate";
      ip: string;
      score: number;
      banned: boolean;
      /** The score reached the threshold but the ban line is not written yet: why. */
      banPending?: string;
    }
  | { ok: true; status: "ignored"; ip: string; reason: string }
  | { ok: true; status: "status"; node: Record<string, unknown> }
  /** The revocation is signed, stored and sent; score and ban here after it. */
  | { ok: true; status: "revoked"; ip: string; reason: string; score: number; banned: boolean }
  /** This node holds no live report of its own of the address: nothing was revoked. */
  | { ok: true; status: "not-reported"; ip: string }
  | {
      ok: true;
      status: "score";
      ip: string;
      score: number;
      threshold: number;
      banned: boolean;
      origins: { origin: string; trust: number; hops: number; via: string }[];
      /** The friend whose never-ban list holds back this address's ban (docs/protocol.md section 18). */
      heldBackBy?: string;
      /** With heldBackBy: that friend's list holds back every report here (never_ban_applies_to_all). */
      heldBackForAll?: boolean;
      /** Origins whose reports of the address are revoked (their revocation is held here). */
      revoked: { origin: string; time: string; reason: string }[];
    }
  | {
      ok: true;
      status: "imported";
      accepted: number;
      known: number;
      own: number;
      expired: number;
      overQuota: number;
      invalid: number;
    }
  | { ok: false; error: "invalid-ip" | "invalid-jail" | "bad-request" | "store-failed"; message: string };
