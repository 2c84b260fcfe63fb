import type { KeyObject } from "node:crypto";
import {
  ENTRY_FIXED_BYTES,
  ENVELOPE_HEADER_BYTES,
  ENVELOPE_SIGNING_TAG,
  KEY_BYTES,
  KIND_ENVELOPE,
  MAX_ENTRIES,
  MAX_ENVELOPE_BYTES,
  MAX_FRAME_BYTES,
  MAX_FRAMES,
  MAX_PATH,
  MAX_RECORD_BYTES,
  MESSAGE_ID_BYTES,
  PROTOCOL_VERSION,
  SIGNATURE_BYTES,
} from "./constants.js";
import { ok, type Result, reject } from "./rejections.js";
import { signTagged, verifyTagged } from "./signing.js";

/** One report as a hop passes it on: which report, how much the hop trusts it, where it has been. */
export interface Entry {
  readonly id: Buffer;
  /** The hop's own trust in the report, 0–100. */
  readonly trust: number;
  /** Signing keys of every node the report has been at: origin first, the sending hop last. */
  readonly path: readonly Buffer[];
}

export interface Envelope {
  readonly from: Buffer;
  readonly to: Buffer;
  readonly entries: readonly Entry[];
}

/** What travels with each entry: the origin's exact report bytes and its signature. */
export interface CarriedReport {
  readonly bytes: Buffer;
  readonly signature: Buffer;
}

export function encodeEnvelope(envelope: Envelope): Buffer {
  const header = Buffer.alloc(ENVELOPE_HEADER_BYTES);
  header[0] = PROTOCOL_VERSION;
  header[1] = KIND_ENVELOPE;
  header[2] = envelope.entries.length;
  header[3] = 0;
  envelope.from.copy(header, 4);
  envelope.to.copy(header, 4 + KEY_BYTES);
  return Buffer.concat([header, encodeEntries(envelope.entries)]);
}

/** Entries back to back (section 6.2); shared by envelopes and sync pages. */
export function encodeEntries(entries: readonly Entry[]): Buffer {
  const size = entries.reduce((n, e) => n + ENTRY_FIXED_BYTES + e.path.length * KEY_BYTES, 0);
  const out = Buffer.alloc(size);
  let at = 0;
  for (const entry of entries) {
    at += entry.id.copy(out, at);
    out[at++] = entry.trust;
    out[at++] = entry.path.length;
    for (const key of entry.path) at += key.copy(out, at);
  }
  return out;
}

/**
 * Reads `count` entries starting at `start`; they must end exactly at the end of `bytes`. The
 * entries' ids and keys are views into `bytes`.
 */
export function decodeEntries(bytes: Buffer, start: number, count: number): Result<Entry[]> {
  const entries: Entry[] = [];
  let at = start;
  for (let i = 0; i < count; i++) {
    if (at + ENTRY_FIXED_BYTES > bytes.length) return reject("malformed");
    const id = bytes.subarray(at, at + MESSAGE_ID_BYTES);
    at += MESSAGE_ID_BYTES;
    const trust = bytes[at++]!;
    const pathLength = bytes[at++]!;
    if (pathLength === 0 || pathLength > MAX_PATH) return reject("malformed");
    if (at + pathLength * KEY_BYTES > bytes.length) return reject("malformed");
    const path: Buffer[] = [];
    for (let p = 0; p < pathLength; p++, at += KEY_BYTES) path.push(bytes.subarray(at, at + KEY_BYTES));
    entries.push({ id, trust, path });
  }
  if (at !== bytes.length) return reject("malformed");
  return ok(entries);
}

/** The frames of one ZeroMQ message: envelope, its signature, then each report and its signature. */
export function sealEnvelope(
  envelope: Envelope,
  reports: readonly CarriedReport[],
  key: KeyObject,
): Buffer[] {
  return sealWithReports(encodeEnvelope(envelope), ENVELOPE_SIGNING_TAG, reports, key);
}

/** Frames of a message: `bytes`, the signature over `tag` ‖ bytes, then each report and its signature. */
export function sealWithReports(
  bytes: Buffer,
  tag: Buffer,
  reports: readonly CarriedReport[],
  key: KeyObject,
): Buffer[] {
  const frames = [bytes, signTagged(tag, bytes, key)];
  for (const report of reports) frames.push(report.bytes, report.signature);
  return frames;
}

/** Parses envelope bytes exactly as received. Structure only: signature and sender are checked by openMessage. */
export function decodeEnvelope(bytes: Buffer): Result<Envelope> {
  if (bytes.length < 2) return reject("malformed");
  if (bytes[0] !== PROTOCOL_VERSION) return reject("bad-version");
  if (bytes[1] !== KIND_ENVELOPE) return reject("bad-kind");
  if (bytes.length > MAX_ENVELOPE_BYTES) return reject("frame-too-large");
  if (bytes.length < ENVELOPE_HEADER_BYTES) return reject("malformed");
  const count = bytes[2]!;
  if (count === 0 || count > MAX_ENTRIES || bytes[3] !== 0) return reject("malformed");
  const from = bytes.subarray(4, 4 + KEY_BYTES);
  const to = bytes.subarray(4 + KEY_BYTES, ENVELOPE_HEADER_BYTES);
  const entries = decodeEntries(bytes, ENVELOPE_HEADER_BYTES, count);
  if (!entries.ok) return entries;
  return ok({ from, to, entries: entries.value });
}

export interface OpenedMessage<F> {
  readonly envelope: Envelope;
  /** The friend that signed the envelope. */
  readonly hop: F;
  readonly reports: readonly CarriedReport[];
}

export interface Recipient<F> {
  /** Our own signing key: envelopes addressed to anyone else are refused. */
  readonly self: Buffer;
  /** Looks a sending hop up among our friends by its signing key. */
  readonly friendBySigningKey: (key: Buffer) => F | undefined;
}

/**
 * Checks a whole message before any report in it is looked at: frame count and sizes, envelope
 * structure, that the sender is one of our friends, that it was meant for us, and the hop's signature
 * over the envelope bytes exactly as they arrived. `hopVerdict`: that signature check made already
 * on these very frames (node/verify-pool.ts, on another thread), or undefined: it is made here.
 */
export function openMessage<F>(
  frames: readonly Buffer[],
  recipient: Recipient<F>,
  hopVerdict?: boolean,
): Result<OpenedMessage<F>> {
  if (frames.length < 4 || frames.length > MAX_FRAMES || frames.length % 2 !== 0)
    return reject("bad-frame-count");
  if (frames[0]!.length > MAX_FRAME_BYTES) return reject("frame-too-large");
  if (frames[1]!.length !== SIGNATURE_BYTES) return reject("malformed");
  const decoded = decodeEnvelope(frames[0]!);
  if (!decoded.ok) return decoded;
  const envelope = decoded.value;
  if (frames.length !== 2 + 2 * envelope.entries.length) return reject("bad-frame-count");
  const hop = recipient.friendBySigningKey(envelope.from);
  if (hop === undefined) return reject("unknown-hop");
  if (!envelope.to.equals(recipient.self)) return reject("wrong-recipient");
  if (!(hopVerdict ?? verifyTagged(ENVELOPE_SIGNING_TAG, frames[0]!, frames[1]!, envelope.from)))
    return reject("bad-hop-signature");
  const reports = carriedReports(frames);
  return reports.ok ? ok({ envelope, hop, reports: reports.value }) : reports;
}

/**
 * The report (or revocation) and signature frames after a signed header and its signature, as an
 * envelope and a sync page carry them (section 3): refused whole as `frame-too-large` when one is
 * over its limit.
 */
export function carriedReports(frames: readonly Buffer[]): Result<CarriedReport[]> {
  const reports: CarriedReport[] = [];
  for (let i = 2; i < frames.length; i += 2) {
    const bytes = frames[i]!;
    const signature = frames[i + 1]!;
    if (bytes.length > MAX_RECORD_BYTES || signature.length > SIGNATURE_BYTES)
      return reject("frame-too-large");
    reports.push({ bytes, signature });
  }
  return ok(reports);
}
