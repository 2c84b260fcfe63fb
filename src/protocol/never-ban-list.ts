import type { KeyObject } from "node:crypto";
import {
  KEY_BYTES,
  KIND_NEVER_BAN_LIST,
  MAX_CLOCK_SKEW_MS,
  MAX_NEVER_BAN_ENTRIES,
  MAX_NEVER_BAN_LIST_BYTES,
  MAX_NEVER_BAN_LIST_LIFETIME_MS,
  MAX_TIME,
  NEVER_BAN_ENTRY_BYTES,
  NEVER_BAN_LIST_HEADER_BYTES,
  NEVER_BAN_LIST_SIGNING_TAG,
  NEVER_BAN_WIDEST_PREFIX,
  PROTOCOL_VERSION,
  SIGNATURE_BYTES,
} from "./constants.js";
import { type IpRange, ipFromBytes } from "./ip.js";
import { ok, type RejectCode, type Result, reject } from "./rejections.js";
import { signTagged, verifyTagged } from "./signing.js";

/**
 * A never-ban list (docs/protocol.md section 18): node `from` asks its friend `to` never to ban
 * these addresses because of `from` (its reports and reports relayed through it), until `expiresAt`.
 */
export interface NeverBanList {
  readonly from: Buffer;
  readonly to: Buffer;
  /** When it was signed, ms since the Unix epoch (the sender's clock): the newest list replaces older ones. */
  readonly time: number;
  /** When it stops being in force, ms since the Unix epoch; at most MAX_NEVER_BAN_LIST_LIFETIME_MS after `time`. */
  readonly expiresAt: number;
  /** 0–64 ranges, none wider than /24 (IPv4) or /48 (IPv6). */
  readonly ranges: readonly IpRange[];
}

/** Why a range cannot be in a list, or undefined when it can (section 18.2). */
export function rangeProblem(range: IpRange): string | undefined {
  const widest = NEVER_BAN_WIDEST_PREFIX[range.family];
  if (range.prefix < widest)
    return `/${range.prefix} is wider than a never-ban list allows (/${widest} at most for IPv${range.family})`;
  return undefined;
}

/** Layout of section 18.1: 84-byte header, then 18 bytes per range. Throws on more than 64 ranges. */
export function encodeNeverBanList(list: NeverBanList): Buffer {
  if (list.ranges.length > MAX_NEVER_BAN_ENTRIES)
    throw new Error(`a never-ban list holds at most ${MAX_NEVER_BAN_ENTRIES} ranges`);
  const out = Buffer.alloc(NEVER_BAN_LIST_HEADER_BYTES + list.ranges.length * NEVER_BAN_ENTRY_BYTES);
  out[0] = PROTOCOL_VERSION;
  out[1] = KIND_NEVER_BAN_LIST;
  out[2] = list.ranges.length;
  list.from.copy(out, 4);
  list.to.copy(out, 4 + KEY_BYTES);
  out.writeBigUInt64BE(BigInt(list.time), 68);
  out.writeBigUInt64BE(BigInt(list.expiresAt), 76);
  list.ranges.forEach((range, i) => {
    const at = NEVER_BAN_LIST_HEADER_BYTES + i * NEVER_BAN_ENTRY_BYTES;
    out[at] = range.family;
    out[at + 1] = range.prefix;
    Buffer.from(range.bytes).copy(out, at + 2);
  });
  return out;
}

/** The two frames of a list: its bytes and the sender's signature over NEVER_BAN_LIST_TAG ‖ bytes. */
export function sealNeverBanList(list: NeverBanList, key: KeyObject): Buffer[] {
  const bytes = encodeNeverBanList(list);
  return [bytes, signTagged(NEVER_BAN_LIST_SIGNING_TAG, bytes, key)];
}

/** Reads one 18-byte entry; every byte is checked (section 18.2). */
function decodeEntry(bytes: Buffer, at: number): Result<IpRange> {
  const family = bytes[at]!;
  const prefix = bytes[at + 1]!;
  if (family !== 4 && family !== 6) return reject("malformed");
  const length = family === 4 ? 4 : 16;
  const address = bytes.subarray(at + 2, at + 2 + length);
  if (prefix > length * 8) return reject("malformed");
  // IPv4 leaves the rest of the 16 bytes zero; host bits past the prefix are zero too.
  for (let i = at + 2 + length; i < at + NEVER_BAN_ENTRY_BYTES; i++)
    if (bytes[i] !== 0) return reject("malformed");
  for (let bit = prefix; bit < length * 8; bit++)
    if ((address[bit >> 3]! >> (7 - (bit & 7))) & 1) return reject("malformed");
  const ip = ipFromBytes(Uint8Array.from(address));
  // An IPv4-mapped IPv6 address is sent as IPv4 (family 4): one address, one encoding.
  if (ip.family !== family) return reject("malformed");
  const range: IpRange = {
    family,
    bytes: Uint8Array.from(address),
    prefix,
    text: prefix === length * 8 ? ip.text : `${ip.text}/${prefix}`,
  };
  return rangeProblem(range) === undefined ? ok(range) : reject("range-too-wide");
}

/** The header checks of section 18.2 (version, kind, count, reserved byte, length). */
function checkHeader(bytes: Buffer): RejectCode | undefined {
  if (bytes.length < 2) return "malformed";
  if (bytes[0] !== PROTOCOL_VERSION) return "bad-version";
  if (bytes[1] !== KIND_NEVER_BAN_LIST) return "bad-kind";
  if (bytes.length < NEVER_BAN_LIST_HEADER_BYTES) return "malformed";
  const count = bytes[2]!;
  if (count > MAX_NEVER_BAN_ENTRIES) return "field-too-large";
  if (bytes[3] !== 0 || bytes.length !== NEVER_BAN_LIST_HEADER_BYTES + count * NEVER_BAN_ENTRY_BYTES)
    return "malformed";
  return undefined;
}

/** Parses list bytes exactly as received, in the order of the checks of section 18.2. */
export function decodeNeverBanList(bytes: Buffer): Result<NeverBanList> {
  const header = checkHeader(bytes);
  return header === undefined ? decodeBody(bytes) : reject(header);
}

/** Times and entries of list bytes whose header passed checkHeader. */
function decodeBody(bytes: Buffer): Result<NeverBanList> {
  const count = bytes[2]!;
  const time = bytes.readBigUInt64BE(68);
  const expiresAt = bytes.readBigUInt64BE(76);
  if (time > MAX_TIME || expiresAt > MAX_TIME || expiresAt <= time) return reject("malformed");
  if (expiresAt - time > BigInt(MAX_NEVER_BAN_LIST_LIFETIME_MS)) return reject("malformed");
  const ranges: IpRange[] = [];
  for (let i = 0; i < count; i++) {
    const range = decodeEntry(bytes, NEVER_BAN_LIST_HEADER_BYTES + i * NEVER_BAN_ENTRY_BYTES);
    if (!range.ok) return range;
    ranges.push(range.value);
  }
  return ok({
    from: Buffer.from(bytes.subarray(4, 4 + KEY_BYTES)),
    to: Buffer.from(bytes.subarray(4 + KEY_BYTES, 68)),
    time: Number(time),
    expiresAt: Number(expiresAt),
    ranges,
  });
}

export interface NeverBanParty<F> {
  /** Our own signing key: lists addressed to anyone else are refused. */
  readonly self: Buffer;
  readonly friendBySigningKey: (key: Buffer) => F | undefined;
  /** Local time, ms. */
  readonly now: number;
}

/** A refused list: the code, and the friend that sent it once its signature proved who that is. */
export type OpenedNeverBanList<F> =
  | { readonly ok: true; readonly value: { list: NeverBanList; friend: F; bytes: Buffer; signature: Buffer } }
  | { readonly ok: false; readonly code: RejectCode; readonly sender: F | undefined };

/**
 * Checks a whole never-ban list message in the order of section 18.2: frames and header, sender is
 * a friend, addressed to us, signature; then, with the sender known (and its refusals counted
 * against it), the entries and the times (`expired`, `from-future`). Whether it is newer than the
 * list held is the caller's check (`superseded`).
 */
export function openNeverBanList<F>(
  frames: readonly Buffer[],
  party: NeverBanParty<F>,
): OpenedNeverBanList<F> {
  const refuse = (code: RejectCode, sender?: F): OpenedNeverBanList<F> => ({ ok: false, code, sender });
  if (frames.length !== 2) return refuse("bad-frame-count");
  const [bytes, signature] = frames as [Buffer, Buffer];
  if (bytes.length > MAX_NEVER_BAN_LIST_BYTES) return refuse("frame-too-large");
  if (signature.length !== SIGNATURE_BYTES) return refuse("malformed");
  const header = checkHeader(bytes);
  if (header !== undefined) return refuse(header);
  const from = bytes.subarray(4, 4 + KEY_BYTES);
  const friend = party.friendBySigningKey(from);
  if (friend === undefined) return refuse("unknown-hop");
  if (!bytes.subarray(4 + KEY_BYTES, 68).equals(party.self)) return refuse("wrong-recipient");
  if (!verifyTagged(NEVER_BAN_LIST_SIGNING_TAG, bytes, signature, from)) return refuse("bad-hop-signature");
  const decoded = decodeBody(bytes);
  if (!decoded.ok) return refuse(decoded.code, friend);
  const list = decoded.value;
  if (list.expiresAt <= party.now) return refuse("expired", friend);
  if (list.time - party.now > MAX_CLOCK_SKEW_MS) return refuse("from-future", friend);
  return { ok: true, value: { list, friend, bytes, signature } };
}
