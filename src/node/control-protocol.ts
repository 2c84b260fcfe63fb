/**
 * The local control socket speaks one JSON object per line, one request per connection.
 * Kept free of imports so the `f2bp2p report` client loads nothing it does not need.
 */
export const MAX_CONTROL_LINE = 4096;
/**
 * Reports per `import` request: each is base64 of report bytes (at most 121) and signature (64),
 * at most 248 characters, so a full batch stays well inside MAX_CONTROL_LINE.
 */
export const IMPORT_BATCH = 14;

export type ControlRequest =
  | { op: "report"; ip: string; jail?: string }
  | { op: "status" }
  | { op: "score"; ip: string }
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
  | {
      ok: true;
      status: "score";
      ip: string;
      score: number;
      threshold: number;
      banned: boolean;
      origins: { origin: string; trust: number; hops: number; via: string }[];
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
