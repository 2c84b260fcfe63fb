import type { KeyObject } from "node:crypto";
import {
  ENTRY_FIXED_BYTES,
  KEY_BYTES,
  KIND_SYNC_PAGE,
  KIND_SYNC_REQUEST,
  MAX_ENTRIES,
  MAX_FRAME_BYTES,
  MAX_FRAMES,
  MAX_SYNC_LIMIT,
  MAX_TIME,
  PROTOCOL_VERSION,
  REQUEST_ID_BYTES,
  SIGNATURE_BYTES,
  SYNC_LOG_ID_BYTES,
  SYNC_PAGE_HEADER_BYTES,
  SYNC_PAGE_SIGNING_TAG,
  SYNC_REQUEST_BYTES,
  SYNC_REQUEST_SIGNING_TAG,
} from "./constants.js";
import {
  type CarriedReport,
  carriedReports,
  decodeEntries,
  type Entry,
  encodeEntries,
  sealWithReports,
} from "./envelope.js";
import { ok, type Result, reject } from "./rejections.js";
import { signTagged, verifyTagged } from "./signing.js";

/**
 * Catch-up sync messages (docs/protocol.md section 13): a node asks a friend for the part of the
 * friend's log it has not taken in yet (a sync request), and the friend answers with sync pages,
 * each an envelope whose header also says which stretch of its log the page covers.
 */

/** "Send me what your log holds for me after `after`, at most `limit` entries." */
export interface SyncRequest {
  readonly from: Buffer;
  readonly to: Buffer;
  /** Entries wanted in the answer, 1–MAX_SYNC_LIMIT. */
  readonly limit: number;
  /** The log id of the recipient's log the cursor is in; 16 zero bytes when there is none. */
  readonly logId: Buffer;
  /** The requester's cursor: every entry up to this sequence number is taken in. */
  readonly after: number;
  /** Random, echoed by every page of the answer. */
  readonly requestId: Buffer;
}

/** Page flags: bit 0 ends the answer; bit 1 (with bit 0) says the log holds more after `upto`. */
export const PAGE_LAST = 0x01;
export const PAGE_MORE = 0x02;

/** One message of an answer: the entries of the sender's log for us with after < seq ≤ upto. */
export interface SyncPage {
  readonly from: Buffer;
  readonly to: Buffer;
  readonly requestId: Buffer;
  /** The sender's log id. */
  readonly logId: Buffer;
  readonly after: number;
  readonly upto: number;
  /** The last page of this answer. */
  readonly last: boolean;
  /** Only on the last page: the log holds more for us after `upto`; ask again from there. */
  readonly more: boolean;
  readonly entries: readonly Entry[];
}

export function encodeSyncRequest(r: SyncRequest): Buffer {
  const out = Buffer.alloc(SYNC_REQUEST_BYTES);
  out[0] = PROTOCOL_VERSION;
  out[1] = KIND_SYNC_REQUEST;
  out.writeUInt16BE(r.limit, 2);
  r.from.copy(out, 4);
  r.to.copy(out, 4 + KEY_BYTES);
  r.logId.copy(out, 68);
  out.writeBigUInt64BE(BigInt(r.after), 84);
  r.requestId.copy(out, 92);
  return out;
}

/** The two frames of a sync request: its bytes and the requester's signature over them. */
export function sealSyncRequest(r: SyncRequest, key: KeyObject): Buffer[] {
  const bytes = encodeSyncRequest(r);
  return [bytes, signTagged(SYNC_REQUEST_SIGNING_TAG, bytes, key)];
}

export function decodeSyncRequest(bytes: Buffer): Result<SyncRequest> {
  if (bytes.length < 2) return reject("malformed");
  if (bytes[0] !== PROTOCOL_VERSION) return reject("bad-version");
  if (bytes[1] !== KIND_SYNC_REQUEST) return reject("bad-kind");
  if (bytes.length !== SYNC_REQUEST_BYTES) return reject("malformed");
  const limit = bytes.readUInt16BE(2);
  const after = bytes.readBigUInt64BE(84);
  if (limit === 0 || limit > MAX_SYNC_LIMIT || after > MAX_TIME) return reject("malformed");
  return ok({
    limit,
    from: bytes.subarray(4, 4 + KEY_BYTES),
    to: bytes.subarray(4 + KEY_BYTES, 68),
    logId: bytes.subarray(68, 68 + SYNC_LOG_ID_BYTES),
    after: Number(after),
    requestId: bytes.subarray(92, 92 + REQUEST_ID_BYTES),
  });
}

export function encodeSyncPage(page: SyncPage): Buffer {
  const entries = encodeEntries(page.entries);
  const out = Buffer.alloc(SYNC_PAGE_HEADER_BYTES + entries.length);
  out[0] = PROTOCOL_VERSION;
  out[1] = KIND_SYNC_PAGE;
  out[2] = page.entries.length;
  out[3] = (page.last ? PAGE_LAST : 0) | (page.last && page.more ? PAGE_MORE : 0);
  page.from.copy(out, 4);
  page.to.copy(out, 36);
  page.requestId.copy(out, 68);
  page.logId.copy(out, 76);
  out.writeBigUInt64BE(BigInt(page.after), 92);
  out.writeBigUInt64BE(BigInt(page.upto), 100);
  entries.copy(out, SYNC_PAGE_HEADER_BYTES);
  return out;
}

/** Bytes one entry adds to a page (or an envelope): a sender keeps a page within MAX_FRAME_BYTES. */
export function entryBytes(entry: Entry): number {
  return ENTRY_FIXED_BYTES + entry.path.length * KEY_BYTES;
}

/** The frames of one page: its bytes, the sender's signature, then each report and its signature. */
export function sealSyncPage(page: SyncPage, reports: readonly CarriedReport[], key: KeyObject): Buffer[] {
  return sealWithReports(encodeSyncPage(page), SYNC_PAGE_SIGNING_TAG, reports, key);
}

export function decodeSyncPage(bytes: Buffer): Result<SyncPage> {
  if (bytes.length < 2) return reject("malformed");
  if (bytes[0] !== PROTOCOL_VERSION) return reject("bad-version");
  if (bytes[1] !== KIND_SYNC_PAGE) return reject("bad-kind");
  if (bytes.length > MAX_FRAME_BYTES) return reject("frame-too-large");
  if (bytes.length < SYNC_PAGE_HEADER_BYTES) return reject("malformed");
  const count = bytes[2]!;
  const flags = bytes[3]!;
  const last = (flags & PAGE_LAST) !== 0;
  const more = (flags & PAGE_MORE) !== 0;
  if (count > MAX_ENTRIES || (flags & ~(PAGE_LAST | PAGE_MORE)) !== 0 || (more && !last))
    return reject("malformed");
  const after = bytes.readBigUInt64BE(92);
  const upto = bytes.readBigUInt64BE(100);
  if (upto > MAX_TIME || after > upto) return reject("malformed");
  const entries = decodeEntries(bytes, SYNC_PAGE_HEADER_BYTES, count);
  if (!entries.ok) return entries;
  return ok({
    from: bytes.subarray(4, 36),
    to: bytes.subarray(36, 68),
    requestId: bytes.subarray(68, 68 + REQUEST_ID_BYTES),
    logId: bytes.subarray(76, 76 + SYNC_LOG_ID_BYTES),
    after: Number(after),
    upto: Number(upto),
    last,
    more,
    entries: entries.value,
  });
}

export interface SyncParty<F> {
  /** Our own signing key: messages addressed to anyone else are refused. */
  readonly self: Buffer;
  readonly friendBySigningKey: (key: Buffer) => F | undefined;
}

/** Checks a whole sync request: two frames, layout, sender is a friend, addressed to us, signature. */
export function openSyncRequest<F>(
  frames: readonly Buffer[],
  party: SyncParty<F>,
): Result<{ request: SyncRequest; friend: F }> {
  if (frames.length !== 2) return reject("bad-frame-count");
  if (frames[0]!.length > MAX_FRAME_BYTES) return reject("frame-too-large");
  if (frames[1]!.length !== SIGNATURE_BYTES) return reject("malformed");
  const decoded = decodeSyncRequest(frames[0]!);
  if (!decoded.ok) return decoded;
  const request = decoded.value;
  const friend = party.friendBySigningKey(request.from);
  if (friend === undefined) return reject("unknown-hop");
  if (!request.to.equals(party.self)) return reject("wrong-recipient");
  if (!verifyTagged(SYNC_REQUEST_SIGNING_TAG, frames[0]!, frames[1]!, request.from))
    return reject("bad-hop-signature");
  return ok({ request, friend });
}

export interface OpenedSyncPage<F> {
  readonly page: SyncPage;
  readonly hop: F;
  readonly reports: readonly CarriedReport[];
}

/**
 * Checks a whole sync page before any report in it is looked at, in the order of docs/protocol.md
 * section 13.4: frames, layout, sender, recipient, that we asked for it (`solicited`, before the
 * signature, so an unasked page costs no verification), then the sender's signature.
 */
export function openSyncPage<F>(
  frames: readonly Buffer[],
  party: SyncParty<F> & { readonly solicited: (hop: F, page: SyncPage) => boolean },
): Result<OpenedSyncPage<F>> {
  if (frames.length < 2 || frames.length > MAX_FRAMES || frames.length % 2 !== 0)
    return reject("bad-frame-count");
  if (frames[0]!.length > MAX_FRAME_BYTES) return reject("frame-too-large");
  if (frames[1]!.length !== SIGNATURE_BYTES) return reject("malformed");
  const decoded = decodeSyncPage(frames[0]!);
  if (!decoded.ok) return decoded;
  const page = decoded.value;
  if (frames.length !== 2 + 2 * page.entries.length) return reject("bad-frame-count");
  const hop = party.friendBySigningKey(page.from);
  if (hop === undefined) return reject("unknown-hop");
  if (!page.to.equals(party.self)) return reject("wrong-recipient");
  if (!party.solicited(hop, page)) return reject("unsolicited");
  if (!verifyTagged(SYNC_PAGE_SIGNING_TAG, frames[0]!, frames[1]!, page.from))
    return reject("bad-hop-signature");
  const reports = carriedReports(frames);
  return reports.ok ? ok({ page, hop, reports: reports.value }) : reports;
}
