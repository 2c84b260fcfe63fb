import fs from "node:fs";
import path from "node:path";
import { shortId } from "../keys/identity.js";
import { checkStoredReport } from "../protocol/check-entry.js";
import { decodeRecords, type JournalRecord } from "../state/journal-import.js";
import type { Ledger } from "../state/ledger.js";
import type { StateStore } from "../state/store.js";
import { VIA_SELF } from "../trust/rules.js";
import type { Logger } from "../util/logger.js";

export const JOURNAL_FILE = "journal.bin";
/** What journal.bin is renamed to once imported: kept for the sysadmin, never read again. */
export const IMPORTED_JOURNAL_FILE = "journal.bin.imported";

export interface JournalImport {
  readonly stateDir: string;
  readonly ledger: Ledger;
  readonly store: StateStore;
  readonly self: Buffer;
  /** Signing keys (hex) of the current friends: a relayed record must have come through one. */
  readonly friendKeys: ReadonlySet<string>;
  readonly now: number;
  readonly lifetimeMs: number;
  readonly log: Logger;
}

/**
 * Imports the journal of f2bp2p 0.1 (`state_dir/journal.bin`) into the store, once, and says so.
 * Nothing in it is trusted: every record is checked as a report from a friend would be (signature,
 * canonical IP, time) and against itself (our own record must carry our key; a relayed one a path
 * from its origin to a current friend). The old node wrote each ban line before journaling the report,
 * so IPs that reach the threshold here are recorded as written, not written again.
 * Returns the number of reports imported (0 when there is no journal).
 */
export function importJournal(j: JournalImport): number {
  const file = path.join(j.stateDir, JOURNAL_FILE);
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
  const { records, skipped } = decodeRecords(data);
  const refused = new Map<string, number>();
  const refuse = (why: string): void => {
    refused.set(why, (refused.get(why) ?? 0) + 1);
  };
  let imported = 0;
  j.store.transaction(() => {
    for (const record of records) {
      const why = refusal(record, j);
      if (why !== undefined) {
        refuse(why);
        continue;
      }
      const outcome = j.ledger.apply({ ...record, at: j.now });
      if (outcome.kind === "over-quota") refuse("over-quota");
      if (outcome.kind !== "accepted") continue;
      imported++;
      if (outcome.banNow) {
        j.store.decideBan({
          ip: record.signed.report.ip,
          score: outcome.score,
          origin: shortId(record.signed.report.origin),
          hops: record.path.length,
          decidedAt: j.now,
          writtenAt: j.now,
          withheld: false,
        });
      }
    }
  });
  fs.renameSync(file, path.join(j.stateDir, IMPORTED_JOURNAL_FILE));
  const fields = {
    file,
    imported,
    refused: Object.fromEntries(refused),
    damagedBytesSkipped: skipped,
    keptAs: IMPORTED_JOURNAL_FILE,
  };
  if (skipped > 0 || [...refused.keys()].some((k) => k !== "expired"))
    j.log.warn("imported journal.bin into the state store; some of it was damaged and refused", fields);
  else j.log.info("imported journal.bin into the state store", fields);
  return imported;
}

function refusal(record: JournalRecord, j: JournalImport): string | undefined {
  const checked = checkStoredReport(record.signed, j.now, j.lifetimeMs);
  if (!checked.ok) return checked.code;
  const origin = record.signed.report.origin;
  if (record.via === VIA_SELF) {
    if (!origin.equals(j.self) || record.path.length !== 0 || record.trust !== 100) return "bad-self-record";
    return undefined;
  }
  if (!j.friendKeys.has(record.via)) return "unknown-hop";
  const path = record.path;
  if (path.length === 0 || !path[0]!.equals(origin) || path[path.length - 1]!.toString("hex") !== record.via)
    return "bad-path";
  return undefined;
}
