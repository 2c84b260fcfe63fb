import { KEY_BYTES, MAX_PATH, MAX_REPORT_BYTES, SIGNATURE_BYTES } from "../protocol/constants.js";
import { decodeReport, type SignedReport } from "../protocol/report.js";
import { sha256 } from "../protocol/signing.js";
import { VIA_SELF } from "../trust/rules.js";

/** One record of the journal of f2bp2p 0.1: a report and the copy of it the node held. */
export interface JournalRecord {
  readonly signed: SignedReport;
  readonly trust: number;
  readonly via: string;
  readonly path: readonly Buffer[];
}

/**
 * The journal of f2bp2p 0.1 (`state_dir/journal.bin`), read once to import it into the state store.
 *
 * Record: u16 length of the rest, then
 *   u8 format (1) | u8 trust | u8 via kind (0 self, 1 friend) | u8 path length P | [32 via key]
 *   | P × 32 path keys | u8 report length R | R report bytes | 64 signature.
 * The file has no checksums, so a damaged length prefix used to end the replay. Reading here resyncs
 * instead: after a record that does not decode it tries the next byte offsets, and the importer
 * re-checks every record it gets (signature, canonical IP, time), so a false start is refused.
 */
const FORMAT = 1;
export const JOURNAL_FILE = "journal.bin";

export function encodeRecord(arrival: JournalRecord): Buffer {
  const viaKey = arrival.via === VIA_SELF ? null : Buffer.from(arrival.via, "hex");
  const { bytes, signature } = arrival.signed;
  const body = Buffer.alloc(
    4 + (viaKey ? KEY_BYTES : 0) + arrival.path.length * KEY_BYTES + 1 + bytes.length + SIGNATURE_BYTES,
  );
  let at = 0;
  body[at++] = FORMAT;
  body[at++] = arrival.trust;
  body[at++] = viaKey ? 1 : 0;
  body[at++] = arrival.path.length;
  if (viaKey) at += viaKey.copy(body, at);
  for (const key of arrival.path) at += key.copy(body, at);
  body[at++] = bytes.length;
  at += bytes.copy(body, at);
  signature.copy(body, at);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(body.length);
  return Buffer.concat([length, body]);
}

/**
 * Reads every record that decodes; `skipped` counts the bytes passed over to find the next one after
 * damage (0 for an intact journal; a record cut short at the end by a crash is skipped too).
 */
export function decodeRecords(data: Buffer): { records: JournalRecord[]; skipped: number } {
  const records: JournalRecord[] = [];
  let skipped = 0;
  let at = 0;
  while (at + 2 <= data.length) {
    const length = data.readUInt16BE(at);
    const record =
      at + 2 + length <= data.length ? decodeRecord(data.subarray(at + 2, at + 2 + length)) : null;
    if (record === null) {
      at++;
      skipped++;
      continue;
    }
    records.push(record);
    at += 2 + length;
  }
  return { records, skipped: skipped + Math.max(0, data.length - at) };
}

function decodeRecord(body: Buffer): JournalRecord | null {
  if (body.length < 5 || body[0] !== FORMAT || body[2]! > 1) return null;
  const trust = body[1]!;
  const viaIsFriend = body[2] === 1;
  const pathLength = body[3]!;
  if (trust > 100 || pathLength > MAX_PATH) return null;
  let at = 4;
  const take = (n: number): Buffer | null => {
    if (at + n > body.length) return null;
    const slice = Buffer.from(body.subarray(at, at + n));
    at += n;
    return slice;
  };
  const viaKey = viaIsFriend ? take(KEY_BYTES) : null;
  if (viaIsFriend && viaKey === null) return null;
  const pathKeys: Buffer[] = [];
  for (let i = 0; i < pathLength; i++) {
    const key = take(KEY_BYTES);
    if (key === null) return null;
    pathKeys.push(key);
  }
  const reportLength = take(1)?.[0];
  if (reportLength === undefined || reportLength > MAX_REPORT_BYTES) return null;
  const bytes = take(reportLength);
  const signature = take(SIGNATURE_BYTES);
  if (bytes === null || signature === null || at !== body.length) return null;
  const report = decodeReport(bytes);
  if (!report.ok) return null;
  const signed: SignedReport = { report: report.value, bytes, signature, id: sha256(bytes) };
  return { signed, trust, via: viaKey ? viaKey.toString("hex") : VIA_SELF, path: pathKeys };
}
