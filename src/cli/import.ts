import fs from "node:fs";
import { findConfigPath, loadNodeConfig } from "../config/load.js";
import { ExportFormatError, MAX_EXPORT_FILE_BYTES } from "../export/format.js";
import { verifyExport } from "../export/verify.js";
import { IMPORT_BATCH } from "../node/control-protocol.js";
import type { SignedReport } from "../protocol/report.js";
import { askNode } from "./control-client.js";
import { UsageError } from "./errors.js";

export interface ImportOptions {
  readonly config: string | undefined;
  readonly file: string;
  readonly trust: number;
  readonly relay: boolean;
}

export interface ImportTotals {
  reports: number;
  accepted: number;
  known: number;
  own: number;
  expired: number;
  overQuota: number;
  invalid: number;
}

/** The file is not an intact export: nothing of it was applied. */
export class ImportRefusedError extends Error {
  readonly code = "ERR_IMPORT_REFUSED";
  constructor(file: string, why: string) {
    super(`${file}: ${why}; refused, nothing was imported`);
    this.name = "ImportRefusedError";
  }
}

/**
 * `f2bp2p import FILE --trust T`: reads the whole file and verifies its structure and every
 * signature first (a file with any fault is refused: ImportRefusedError, nothing sent), then hands
 * the reports to the running node over the control socket in batches, which applies them as from a
 * pseudo-friend with trust T (node.importReports). Throws NodeNotRunningError when no node answers,
 * before anything is applied; a node that fails mid-way (store write error) leaves the batches before
 * it applied, and the error says how many: running the import again is safe (held reports are known).
 */
export async function importFile(options: ImportOptions, env: NodeJS.ProcessEnv): Promise<ImportTotals> {
  if (!Number.isInteger(options.trust) || options.trust < 0 || options.trust > 100)
    throw new UsageError(`--trust must be a whole number from 0 to 100, not ${options.trust}`);
  const config = loadNodeConfig(findConfigPath(options.config, env));
  const data = readLimited(options.file);
  let reports: ReturnType<typeof verifyExport>;
  try {
    reports = verifyExport(data);
  } catch (err: unknown) {
    if (err instanceof ExportFormatError) throw new ImportRefusedError(options.file, err.message);
    throw err;
  }
  const totals: ImportTotals = {
    reports: reports.length,
    accepted: 0,
    known: 0,
    own: 0,
    expired: 0,
    overQuota: 0,
    invalid: 0,
  };
  const batches: SignedReport[][] = [];
  for (let i = 0; i < reports.length; i += IMPORT_BATCH) batches.push(reports.slice(i, i + IMPORT_BATCH));
  // An empty file still asks the node, so "node not running" is said either way.
  if (batches.length === 0) batches.push([]);
  let applied = 0;
  for (const batch of batches) {
    let answer: Awaited<ReturnType<typeof askNode>>;
    try {
      answer = await askNode(config.controlSocket, {
        op: "import",
        trust: options.trust,
        relay: options.relay,
        reports: batch.map((r) => Buffer.concat([r.bytes, r.signature]).toString("base64")),
      });
    } catch (err: unknown) {
      // The node not running (or the socket not ours) before anything was applied: said as such.
      if (applied === 0) throw err;
      throw stopped(applied, reports.length, err instanceof Error ? err.message : String(err));
    }
    if (!answer.ok) throw stopped(applied, reports.length, answer.message);
    if (answer.status !== "imported")
      throw stopped(applied, reports.length, `unexpected answer ${answer.status}`);
    for (const key of ["accepted", "known", "own", "expired", "overQuota", "invalid"] as const)
      totals[key] += answer[key];
    applied += batch.length;
  }
  return totals;
}

function stopped(applied: number, total: number, why: string): Error {
  return new Error(
    `the import stopped after ${applied} of ${total} reports: ${why}` +
      (applied > 0 ? " (those were applied; importing the file again is safe)" : "; nothing was imported"),
  );
}

function readLimited(file: string): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (err: unknown) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size > MAX_EXPORT_FILE_BYTES)
      throw new UsageError(
        `${file} is ${size} bytes; an import file may have at most ${MAX_EXPORT_FILE_BYTES}`,
      );
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
