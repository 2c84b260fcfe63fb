import type { LocalReportResult } from "../node/node.js";
import type { IntakeVerdict } from "./intake.js";
import type { SpooledReport } from "./spool-file.js";

/**
 * What the intake does with a spool file after the node's answer: accepted, duplicate (applied
 * before, e.g. by a node that hung and woke up) and ignored (never-ban list) are final, and so is a
 * report that expired while it waited; a bad address, jail or a time in the future is set aside; a
 * report the store could not commit stays for a later pass.
 * `now`: ms since the epoch.
 */
export function spoolVerdict(result: LocalReportResult, report: SpooledReport, now: number): IntakeVerdict {
  switch (result.status) {
    case "accepted":
    case "duplicate":
    case "ignored":
      return { kind: "done", status: result.status };
    case "invalid-ip":
      return { kind: "refused", reason: "not an IPv4 or IPv6 address" };
    case "store-failed":
      return { kind: "later", reason: result.message };
    case "invalid-time":
      return report.time <= now
        ? { kind: "done", status: `dropped (${result.reason})` }
        : { kind: "refused", reason: result.reason };
  }
}
