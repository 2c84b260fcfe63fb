import fs from "node:fs";
import path from "node:path";
import { KEY_BYTES, MAX_PATH, MAX_REPORT_BYTES, SIGNATURE_BYTES } from "../protocol/constants.js";
import { decodeReport, type SignedReport } from "../protocol/report.js";
import { sha256 } from "../protocol/signing.js";
import { VIA_SELF } from "../trust/rules.js";
import type { Arrival } from "./ledger.js";

/**
 * The node's memory across restarts: every accepted arrival, appended to `state_dir/journal.bin`.
 * At start the journal is replayed (skipping what has expired), then rewritten with only what is still
 * live; a running node rewrites it the same way once it has appended more records than it holds live
 * reports, so the file stays within about twice the live set however long the node runs.
 *
 * Record: u16 length of the rest, then
 *   u8 format (1) | u8 trust | u8 via kind (0 self, 1 friend) | u8 path length P | [32 via key]
 *   | P × 32 path keys | u8 report length R | R report bytes | 64 signature.
 * A record cut short by a crash ends the replay; everything before it is kept.
 */
const FORMAT = 1;
export const JOURNAL_FILE = "journal.bin";

export function encodeRecord(arrival: Arrival): Buffer {
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

/** Reads records until the end or the first one that is cut short or unreadable. */
export function* decodeRecords(data: Buffer): Generator<Arrival> {
  let at = 0;
  while (at + 2 <= data.length) {
    const length = data.readUInt16BE(at);
    if (at + 2 + length > data.length) return;
    const arrival = decodeRecord(data.subarray(at + 2, at + 2 + length));
    if (arrival === null) return;
    yield arrival;
    at += 2 + length;
  }
}

function decodeRecord(body: Buffer): Arrival | null {
  if (body.length < 5 || body[0] !== FORMAT) return null;
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
  // The journal holds only reports this node checked on arrival: the costly IP re-parse is skipped.
  const report = decodeReport(bytes, false);
  if (!report.ok) return null;
  const signed: SignedReport = { report: report.value, bytes, signature, id: sha256(bytes) };
  return { signed, trust, via: viaKey ? viaKey.toString("hex") : VIA_SELF, path: pathKeys };
}

/** Append-only file of accepted arrivals, written synchronously so an acknowledged report is on disk. */
export class Journal {
  readonly #file: string;
  #fd: number | undefined;
  readonly #pending: Buffer[] = [];
  #appended = 0;

  constructor(stateDir: string) {
    this.#file = path.join(stateDir, JOURNAL_FILE);
  }

  get file(): string {
    return this.#file;
  }

  /** Every record from the last run, oldest first, decoded as it is iterated; none without a journal. */
  read(): Iterable<Arrival> {
    let data: Buffer;
    try {
      data = fs.readFileSync(this.#file);
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    return decodeRecords(data);
  }

  /** Records appended since the journal was last rewritten: what compaction would drop at most. */
  get appendedSinceRewrite(): number {
    return this.#appended;
  }

  /** Replaces the journal with exactly `live` (atomically), then opens it for appending. */
  open(live: Iterable<Arrival>): void {
    this.close();
    this.#appended = 0;
    fs.mkdirSync(path.dirname(this.#file), { recursive: true, mode: 0o750 });
    const tmp = `${this.#file}.tmp`;
    const fd = fs.openSync(tmp, "w", 0o600);
    try {
      const chunk: Buffer[] = [];
      for (const arrival of live) {
        chunk.push(encodeRecord(arrival));
        if (chunk.length >= 4096) fs.writeSync(fd, Buffer.concat(chunk.splice(0)));
      }
      if (chunk.length > 0) fs.writeSync(fd, Buffer.concat(chunk));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.#file);
    this.#fd = fs.openSync(this.#file, "a", 0o600);
  }

  /** Adds a record; it reaches the file at the next flush(). */
  append(arrival: Arrival): void {
    if (this.#fd === undefined) return;
    this.#pending.push(encodeRecord(arrival));
    this.#appended++;
  }

  /** Writes what was appended since the last flush in one system call (once per message). */
  flush(): void {
    if (this.#fd === undefined || this.#pending.length === 0) return;
    fs.writeSync(this.#fd, this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending));
    this.#pending.length = 0;
  }

  close(): void {
    this.flush();
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = undefined;
  }
}
