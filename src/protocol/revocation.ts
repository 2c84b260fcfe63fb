import type { KeyObject } from "node:crypto";
import {
  KEY_BYTES,
  KIND_REVOCATION,
  MAX_IP_BYTES,
  MAX_REVOCATION_BYTES,
  MAX_REVOCATION_REASON_BYTES,
  PROTOCOL_VERSION,
  REPORT_SIGNING_TAG,
  REVOCATION_HEADER_BYTES,
  REVOCATION_REASON_PATTERN,
  REVOCATION_SIGNING_TAG,
} from "./constants.js";
import { isCanonicalIp } from "./ip.js";
import { ok, type Result, reject } from "./rejections.js";
import { decodeReport, type OriginReport, type SignedReport } from "./report.js";
import { sha256, signTagged } from "./signing.js";

/**
 * A revocation (docs/protocol.md section 17): "origin O withdraws every report it made of `ip` with
 * a time up to `time`". Signed by O itself, carried in envelopes and sync pages where a report is.
 */
export interface Revocation {
  readonly ip: string;
  /** When it was revoked, ms since the Unix epoch (the origin's clock). */
  readonly time: number;
  /** The origin's Ed25519 public key: only its own reports are revoked. */
  readonly origin: Buffer;
  /** Why, for the sysadmins who read it: 0-64 bytes of printable ASCII. */
  readonly reason: string;
}

/** Layout: version, kind 0x05, IP length, reason length, u64 time, origin key, IP text, reason. */
export function encodeRevocation(r: Revocation): Buffer {
  const ip = Buffer.from(r.ip, "latin1");
  const reason = Buffer.from(r.reason, "latin1");
  const out = Buffer.alloc(REVOCATION_HEADER_BYTES + ip.length + reason.length);
  out[0] = PROTOCOL_VERSION;
  out[1] = KIND_REVOCATION;
  out[2] = ip.length;
  out[3] = reason.length;
  out.writeBigUInt64BE(BigInt(r.time), 4);
  r.origin.copy(out, 12);
  ip.copy(out, REVOCATION_HEADER_BYTES);
  reason.copy(out, REVOCATION_HEADER_BYTES + ip.length);
  return out;
}

/**
 * Signs a revocation with the origin's key. Throws on a reason that is not 0-64 printable ASCII
 * characters: the caller (CLI, control socket) checks it first and says so to the user.
 */
export function signRevocation(r: Revocation, key: KeyObject): SignedReport {
  if (!REVOCATION_REASON_PATTERN.test(r.reason))
    throw new Error(`revocation reason must be 0-${MAX_REVOCATION_REASON_BYTES} printable ASCII characters`);
  const bytes = encodeRevocation(r);
  return {
    report: asRecord(r),
    bytes,
    signature: signTagged(REVOCATION_SIGNING_TAG, bytes, key),
    id: sha256(bytes),
  };
}

/** Parses revocation bytes exactly as received; every field is checked, trailing bytes are refused. */
export function decodeRevocation(bytes: Buffer, checkIpText = true): Result<Revocation> {
  if (bytes.length < 2) return reject("malformed");
  if (bytes[0] !== PROTOCOL_VERSION) return reject("bad-version");
  if (bytes[1] !== KIND_REVOCATION) return reject("bad-kind");
  if (bytes.length > MAX_REVOCATION_BYTES) return reject("frame-too-large");
  if (bytes.length < REVOCATION_HEADER_BYTES) return reject("malformed");
  const ipLength = bytes[2]!;
  const reasonLength = bytes[3]!;
  if (ipLength > MAX_IP_BYTES || reasonLength > MAX_REVOCATION_REASON_BYTES) return reject("field-too-large");
  if (bytes.length !== REVOCATION_HEADER_BYTES + ipLength + reasonLength) return reject("malformed");
  const time = Number(bytes.readBigUInt64BE(4));
  if (!Number.isSafeInteger(time)) return reject("malformed");
  const ip = bytes.toString("latin1", REVOCATION_HEADER_BYTES, REVOCATION_HEADER_BYTES + ipLength);
  if (checkIpText && !isCanonicalIp(ip)) return reject("invalid-ip");
  const reason = bytes.toString("latin1", REVOCATION_HEADER_BYTES + ipLength);
  if (!REVOCATION_REASON_PATTERN.test(reason)) return reject("malformed");
  const origin = Buffer.from(bytes.subarray(12, 12 + KEY_BYTES));
  return ok({ ip, time, origin, reason });
}

/** A revocation in the shape the seen cache and the ledger hold records in. */
export function asRecord(r: Revocation): OriginReport {
  return { ip: r.ip, time: r.time, origin: r.origin, jail: "", revocation: { reason: r.reason } };
}

/**
 * Parses the bytes of either record an entry may carry (a report, kind 0x01, or a revocation, kind
 * 0x05); any other kind is `bad-kind`. `checkIpText` as for decodeReport.
 */
export function decodeRecord(bytes: Buffer, checkIpText = true): Result<OriginReport> {
  if (bytes.length >= 2 && bytes[0] === PROTOCOL_VERSION && bytes[1] === KIND_REVOCATION) {
    const decoded = decodeRevocation(bytes, checkIpText);
    return decoded.ok ? ok(asRecord(decoded.value)) : decoded;
  }
  return decodeReport(bytes, checkIpText);
}

/** The domain tag a record's origin signature is made under (section 7.2). */
export function signingTagOf(record: OriginReport): Buffer {
  return record.revocation === undefined ? REPORT_SIGNING_TAG : REVOCATION_SIGNING_TAG;
}
