import fs from "node:fs";
import { findConfigPath, loadNodeConfig, parseDuration } from "../config/load.js";
import { encodeExport } from "../export/format.js";
import { checkStoredReport } from "../protocol/check-entry.js";
import type { SignedReport } from "../protocol/report.js";
import { SqliteStore } from "../state/sqlite-store.js";
import { UsageError } from "./errors.js";

const PAGE = 1000;

export interface ExportOptions {
  readonly config: string | undefined;
  /** Only reports whose origin time is at most this long ago, e.g. "24h" (docs: DURATION). */
  readonly since: string | undefined;
  readonly now?: number;
}

/**
 * `f2bp2p export`: every live origin-signed report in the store (our own and friends'), in the
 * export format (docs/export.md), in the order of the node's catch-up log (docs/protocol.md section 13.1). Reads the store read-only, so it works while
 * the node runs. Each report is checked as a stored report is before it leaves the node (its bytes,
 * id and signature: damage on disk never travels); one that fails is left out and counted in
 * `skipped`. Throws UsageError for a bad --since, StoreDamagedError for a store it cannot read.
 */
export function exportReports(
  options: ExportOptions,
  env: NodeJS.ProcessEnv,
): { file: Buffer; reports: number; skipped: number } {
  const config = loadNodeConfig(findConfigPath(options.config, env));
  const now = options.now ?? Date.now();
  let oldest = Number.NEGATIVE_INFINITY;
  if (options.since !== undefined) {
    const seconds = parseDuration(options.since);
    if (seconds === null || seconds <= 0)
      throw new UsageError(`--since '${options.since}' is not a duration (e.g. 3600, 90s, 30m, 24h, 7d)`);
    oldest = now - seconds * 1000;
  }
  const lifetimeMs = config.reportLifetimeSeconds * 1000;
  const store = new SqliteStore(config.stateDir, { readOnly: true });
  const reports: SignedReport[] = [];
  let skipped = 0;
  try {
    let after = 0;
    for (;;) {
      const page = store.logAfter(after, now, PAGE);
      for (const held of page) {
        const checked = checkStoredReport(held.signed, now, lifetimeMs);
        if (!checked.ok) {
          if (checked.code !== "expired") skipped++;
          continue;
        }
        if (checked.value.report.time >= oldest) reports.push(checked.value);
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.seq;
    }
  } finally {
    store.close();
  }
  return { file: encodeExport(reports), reports: reports.length, skipped };
}

/** Writes the export to stdout, refusing a terminal (binary data): redirect it to a file. */
export function writeExport(file: Buffer): void {
  if (process.stdout.isTTY)
    throw new UsageError("the export is binary: redirect it to a file (f2bp2p export > reports.f2bx)");
  fs.writeSync(1, file);
}
