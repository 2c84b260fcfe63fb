import type { SignedReport } from "../protocol/report.js";
import { signingTagOf } from "../protocol/revocation.js";
import { verifyTagged } from "../protocol/signing.js";
import { decodeExport, ExportFormatError } from "./format.js";

/**
 * Reads and verifies a whole export file: its structure (format.ts) and every record's origin
 * signature (docs/protocol.md section 7; a revocation's under its own tag, section 17). Returns the reports only when all of them verify; throws
 * ExportFormatError naming the first bad record otherwise, so nothing of a tampered file is applied.
 */
export function verifyExport(file: Buffer): SignedReport[] {
  const reports = decodeExport(file);
  reports.forEach((signed, i) => {
    if (!verifyTagged(signingTagOf(signed.report), signed.bytes, signed.signature, signed.report.origin))
      throw new ExportFormatError(
        undefined,
        `record ${i + 1} (${signed.report.ip}): the origin's signature does not verify (file altered?)`,
      );
  });
  return reports;
}
