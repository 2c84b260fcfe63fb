import type { KeyObject } from "node:crypto";
import {
  JAIL_NAME_PATTERN,
  KEY_BYTES,
  KIND_REPORT,
  MAX_IP_BYTES,
  MAX_JAIL_BYTES,
  MAX_REPORT_BYTES,
  PROTOCOL_VERSION,
  REPORT_HEADER_BYTES,
  REPORT_SIGNING_TAG,
} from "./constants.js";
import { isCanonicalIp } from "./ip.js";
import { ok, type Result, reject } from "./rejections.js";
import { sha256, signTagged } from "./signing.js";

/** What an origin says: "I banned this IP at this time". Signed once by the origin, never changed. */
export interface OriginReport {
  readonly ip: string;
  /** Milliseconds since the Unix epoch, as the origin's clock saw it. */
  readonly time: number;
  /** The origin's Ed25519 public key. */
  readonly origin: Buffer;
  /** The fail2ban jail that banned it, or "" when unknown (always "" on a revocation). */
  readonly jail: string;
  /**
   * Set when the record is a revocation (kind 0x05, protocol/revocation.ts): the origin withdraws
   * every report it made of `ip` with a time up to `time`, for this reason.
   */
  readonly revocation?: { readonly reason: string };
}

/** A report (or a revocation) as it travels: its exact bytes, their signature and the content hash that names it. */
export interface SignedReport {
  readonly report: OriginReport;
  readonly bytes: Buffer;
  readonly signature: Buffer;
  /** SHA-256 of `bytes`: the message id. */
  readonly id: Buffer;
}

export function encodeReport(report: OriginReport): Buffer {
  const ip = Buffer.from(report.ip, "latin1");
  const jail = Buffer.from(report.jail, "latin1");
  const out = Buffer.alloc(REPORT_HEADER_BYTES + ip.length + jail.length);
  out[0] = PROTOCOL_VERSION;
  out[1] = KIND_REPORT;
  out[2] = ip.length;
  out[3] = jail.length;
  out.writeBigUInt64BE(BigInt(report.time), 4);
  report.origin.copy(out, 12);
  ip.copy(out, REPORT_HEADER_BYTES);
  jail.copy(out, REPORT_HEADER_BYTES + ip.length);
  return out;
}

export function signReport(report: OriginReport, key: KeyObject): SignedReport {
  const bytes = encodeReport(report);
  return { report, bytes, signature: signTagged(REPORT_SIGNING_TAG, bytes, key), id: sha256(bytes) };
}

/**
 * Parses report bytes exactly as received; every field is checked, trailing bytes are refused.
 * `checkIpText` may be false only for bytes this node checked itself before (its own journal).
 */
export function decodeReport(bytes: Buffer, checkIpText = true): Result<OriginReport> {
  if (bytes.length < 2) return reject("malformed");
  if (bytes[0] !== PROTOCOL_VERSION) return reject("bad-version");
  if (bytes[1] !== KIND_REPORT) return reject("bad-kind");
  if (bytes.length > MAX_REPORT_BYTES) return reject("frame-too-large");
  if (bytes.length < REPORT_HEADER_BYTES) return reject("malformed");
  const ipLength = bytes[2]!;
  const jailLength = bytes[3]!;
  if (ipLength > MAX_IP_BYTES || jailLength > MAX_JAIL_BYTES) return reject("field-too-large");
  if (bytes.length !== REPORT_HEADER_BYTES + ipLength + jailLength) return reject("malformed");
  const time = Number(bytes.readBigUInt64BE(4));
  if (!Number.isSafeInteger(time)) return reject("malformed");
  const ip = bytes.toString("latin1", REPORT_HEADER_BYTES, REPORT_HEADER_BYTES + ipLength);
  if (checkIpText && !isCanonicalIp(ip)) return reject("invalid-ip");
  const jail = bytes.toString("latin1", REPORT_HEADER_BYTES + ipLength);
  if (jail !== "" && !JAIL_NAME_PATTERN.test(jail)) return reject("invalid-jail");
  const origin = Buffer.from(bytes.subarray(12, 12 + KEY_BYTES));
  return ok({ ip, time, origin, jail });
}
