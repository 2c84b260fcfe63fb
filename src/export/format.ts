/**
 * The export file (docs/export.md is its specification): origin-signed reports, each verifiable
 * with libsodium alone (crypto_sign_verify_detached over REPORT_TAG ‖ report bytes, with the origin
 * key found inside the report), in records that say their kind, so kinds to come (revocations) fit.
 *
 *   file   = magic "F2BP2PEX" (8 bytes) ‖ format version (1 byte, 0x01) ‖ record* ‖ end record
 *   record = kind (1 byte) ‖ body length (u16 big-endian) ‖ body
 *   kind 0x01 report: body = report bytes (docs/protocol.md section 4) ‖ origin's signature (64 bytes)
 *   kind 0x00 end:    body = number of records before it (u32 big-endian); nothing may follow
 *
 * Pure: bytes in, bytes or a reason out; no I/O.
 */
import {
  KIND_REVOCATION,
  MAX_RECORD_BYTES,
  REPORT_HEADER_BYTES,
  SIGNATURE_BYTES,
} from "../protocol/constants.js";
import type { SignedReport } from "../protocol/report.js";
import { decodeRecord } from "../protocol/revocation.js";
import { sha256 } from "../protocol/signing.js";

export const EXPORT_MAGIC = Buffer.from("F2BP2PEX", "latin1");
export const EXPORT_FORMAT_VERSION = 1;
export const RECORD_END = 0x00;
export const RECORD_REPORT = 0x01;
/** A revocation (docs/protocol.md section 17) and its origin's signature. */
export const RECORD_REVOCATION = 0x02;
const FILE_HEADER_BYTES = EXPORT_MAGIC.length + 1;
const RECORD_HEADER_BYTES = 3;
/** Largest file `f2bp2p import` reads: all of it is held in memory to verify everything first. */
export const MAX_EXPORT_FILE_BYTES = 64 * 1024 * 1024;

/** The file's start: magic and format version. */
export function exportHeader(): Buffer {
  return Buffer.concat([EXPORT_MAGIC, Buffer.from([EXPORT_FORMAT_VERSION])]);
}

/** One report record. */
export function reportRecord(signed: Pick<SignedReport, "bytes" | "signature">): Buffer {
  const body = Buffer.concat([signed.bytes, signed.signature]);
  const head = Buffer.alloc(RECORD_HEADER_BYTES);
  head[0] = signed.bytes[1] === KIND_REVOCATION ? RECORD_REVOCATION : RECORD_REPORT;
  head.writeUInt16BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** The end record, closing a file of `count` records: a cut-off file is told from a whole one. */
export function endRecord(count: number): Buffer {
  const out = Buffer.alloc(RECORD_HEADER_BYTES + 4);
  out[0] = RECORD_END;
  out.writeUInt16BE(4, 1);
  out.writeUInt32BE(count, 3);
  return out;
}

/** A whole export file of `reports`. */
export function encodeExport(reports: readonly Pick<SignedReport, "bytes" | "signature">[]): Buffer {
  return Buffer.concat([exportHeader(), ...reports.map(reportRecord), endRecord(reports.length)]);
}

export class ExportFormatError extends Error {
  readonly code = "ERR_EXPORT_FORMAT";
  /** Byte offset in the file where the problem is, when it is about one place. */
  readonly offset: number | undefined;
  constructor(offset: number | undefined, what: string) {
    super(offset === undefined ? what : `at byte ${offset}: ${what}`);
    this.name = "ExportFormatError";
    this.offset = offset;
  }
}

/**
 * Splits an export file into its signed reports (decoded, with their message ids) WITHOUT checking
 * signatures: verifyExport does that. Throws ExportFormatError for anything not exactly as specified.
 */
export function decodeExport(file: Buffer): SignedReport[] {
  if (file.length < FILE_HEADER_BYTES || !file.subarray(0, EXPORT_MAGIC.length).equals(EXPORT_MAGIC))
    throw new ExportFormatError(0, "not an f2bp2p export file (no F2BP2PEX magic)");
  const version = file[EXPORT_MAGIC.length]!;
  if (version !== EXPORT_FORMAT_VERSION)
    throw new ExportFormatError(EXPORT_MAGIC.length, `export format version ${version}, this f2bp2p reads 1`);
  const reports: SignedReport[] = [];
  let at = FILE_HEADER_BYTES;
  for (;;) {
    if (at + RECORD_HEADER_BYTES > file.length)
      throw new ExportFormatError(at, "file ends without its end record (cut off?)");
    const kind = file[at]!;
    const length = file.readUInt16BE(at + 1);
    const bodyAt = at + RECORD_HEADER_BYTES;
    if (bodyAt + length > file.length)
      throw new ExportFormatError(at, `record of ${length} bytes runs past the end of the file (cut off?)`);
    const body = file.subarray(bodyAt, bodyAt + length);
    if (kind === RECORD_END) {
      if (length !== 4) throw new ExportFormatError(at, `end record of ${length} bytes, not 4`);
      const count = body.readUInt32BE(0);
      if (count !== reports.length)
        throw new ExportFormatError(at, `end record says ${count} records, the file has ${reports.length}`);
      if (bodyAt + length !== file.length)
        throw new ExportFormatError(bodyAt + length, "bytes after the end record");
      return reports;
    }
    if (kind !== RECORD_REPORT && kind !== RECORD_REVOCATION)
      throw new ExportFormatError(at, `unknown record kind 0x${kind.toString(16).padStart(2, "0")}`);
    const what = kind === RECORD_REPORT ? "report" : "revocation";
    if (length < REPORT_HEADER_BYTES + 1 + SIGNATURE_BYTES || length > MAX_RECORD_BYTES + SIGNATURE_BYTES)
      throw new ExportFormatError(at, `${what} record of ${length} bytes is not a ${what} and signature`);
    const bytes = Buffer.from(body.subarray(0, length - SIGNATURE_BYTES));
    const decoded = decodeRecord(bytes);
    if (!decoded.ok) throw new ExportFormatError(bodyAt, `${what} is not valid (${decoded.code})`);
    if ((decoded.value.revocation !== undefined) !== (kind === RECORD_REVOCATION))
      throw new ExportFormatError(
        bodyAt,
        `a ${what} record holds a ${kind === RECORD_REPORT ? "revocation" : "report"}`,
      );
    reports.push({
      report: decoded.value,
      bytes,
      signature: Buffer.from(body.subarray(length - SIGNATURE_BYTES)),
      id: sha256(bytes),
    });
    at = bodyAt + length;
  }
}
