/**
 * The one address grammar of f2bp2p: config (`ignore`), CLI (`report`, `score`), wire (section 5.1
 * of docs/protocol.md), never-ban list and bans log all parse and print addresses here.
 *
 * - Input: an IPv4 dotted quad (strict: no leading zeros, no short forms) or any IPv6 text node's
 *   net.isIP accepts, without zone index, brackets or port.
 * - Canonical text: IPv4 dotted quad; IPv4-mapped IPv6 (`::ffff:0:0/96`) folds to the IPv4 address
 *   it maps, so one attacker has one key; every other IPv6 address is RFC 5952 section 4 hex,
 *   never with a dotted tail (fail2ban's `<ADDR>` does not read `::192.0.2.1`).
 * - Ranges: `ADDRESS/PREFIX`; an IPv4-mapped range folds to the IPv4 range it maps.
 */
import net from "node:net";
import { MAX_IP_BYTES } from "./constants.js";

export type IpFamily = 4 | 6;

export interface ParsedIp {
  /** Canonical text (see the module comment). */
  readonly text: string;
  readonly family: IpFamily;
  /** 4 bytes for IPv4 (also for a folded IPv4-mapped address), 16 for IPv6. */
  readonly bytes: Uint8Array;
}

/**
 * Parses and normalises one IP address. Returns null for anything that is not a plain address:
 * host names, ranges, zone ids (`fe80::1%eth0`), brackets, ports, empty or over-long text.
 * The result is shared with later calls for the same text (see PARSED_CACHE_SIZE): never mutate it.
 */
export function parseIp(input: string): ParsedIp | null {
  const cached = parsedCache.get(input);
  if (cached !== undefined) return cached;
  const bytes = addressBytes(input);
  if (bytes === null) return null;
  const parsed = ipFromBytes(bytes);
  // Bounded: addresses from the network are unbounded in number; a full cache starts over.
  if (parsedCache.size >= PARSED_CACHE_SIZE) parsedCache.clear();
  parsedCache.set(input, parsed);
  return parsed;
}

/**
 * Addresses parsed lately, by input text. One report's address is parsed four or five times on its
 * way through a node (decode, never-ban lists, ban line); IPv6 parsing costs microseconds each time.
 */
const PARSED_CACHE_SIZE = 4096;
const parsedCache = new Map<string, ParsedIp>();

/** True when the text is already exactly the canonical form parseIp would produce. */
export function isCanonicalIp(text: string): boolean {
  return parseIp(text)?.text === text;
}

/** The address of 4 or 16 bytes, IPv4-mapped IPv6 folded to IPv4. */
export function ipFromBytes(bytes: Uint8Array): ParsedIp {
  if (bytes.length === 16 && isIpv4Mapped(bytes)) return ipFromBytes(bytes.slice(12));
  if (bytes.length === 4) return { text: bytes.join("."), family: 4, bytes };
  if (bytes.length !== 16) throw new RangeError(`an address has 4 or 16 bytes, not ${bytes.length}`);
  return { text: formatIpv6(bytes), family: 6, bytes };
}

/** `::ffff:a.b.c.d`: 80 zero bits, 16 one bits, then the IPv4 address. */
function isIpv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Bytes of the address as written (4 or 16, IPv4-mapped not folded), or null when not an address. */
function addressBytes(input: string): Uint8Array | null {
  if (input.length === 0 || input.length > MAX_IP_BYTES || input.includes("%")) return null;
  const family = net.isIP(input);
  if (family === 4) return Uint8Array.from(input.split(".").map(Number));
  if (family === 6) return ipv6Bytes(input);
  return null;
}

/** Bytes of an IPv6 text already accepted by net.isIP (so every group is valid hex or a dotted tail). */
function ipv6Bytes(text: string): Uint8Array {
  const gap = text.indexOf("::");
  const left = gap < 0 ? text : text.slice(0, gap);
  const right = gap < 0 ? "" : text.slice(gap + 2);
  const out = new Uint8Array(16);
  writeGroups(left, out, 0);
  // The right part goes to the end; `::` stands for the zero groups between.
  const rightGroups = right === "" ? 0 : groupCount(right);
  writeGroups(right, out, 16 - 2 * rightGroups);
  return out;
}

/** Groups in one side of `::`: a dotted tail counts as two. */
function groupCount(part: string): number {
  let groups = 1;
  for (let i = 0; i < part.length; i++) if (part.charCodeAt(i) === 0x3a) groups++;
  return part.includes(".") ? groups + 1 : groups;
}

/** Writes the 16-bit groups of one side of `::` (and a dotted tail) from byte `at`; returns the end. */
function writeGroups(part: string, out: Uint8Array, at: number): number {
  if (part === "") return at;
  for (const group of part.split(":")) {
    if (group.includes(".")) {
      for (const octet of group.split(".")) out[at++] = Number(octet);
      continue;
    }
    const value = Number.parseInt(group, 16);
    out[at++] = value >> 8;
    out[at++] = value & 0xff;
  }
  return at;
}

/**
 * RFC 5952 section 4: lower-case hex, no leading zeros, `::` for the longest run of two or more zero
 * groups (the first of equally long runs), never a dotted tail.
 */
function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

// ---------------------------------------------------------------------------
// Ranges
// ---------------------------------------------------------------------------

export interface IpRange {
  readonly family: IpFamily;
  /** Network address: host bits cleared. */
  readonly bytes: Uint8Array;
  /** 0–32 for IPv4, 0–128 for IPv6. */
  readonly prefix: number;
  /** Canonical text: `ADDRESS` for a single address, else `NETWORK/PREFIX`. */
  readonly text: string;
}

export type RangeProblem =
  /** Not `ADDRESS` or `ADDRESS/PREFIX` with an address parseIp reads and a decimal prefix. */
  | "invalid"
  /** Prefix over 32 (IPv4) or 128 (IPv6). */
  | "prefix-out-of-range"
  /** An IPv4-mapped address with a prefix under 96: it would cover IPv6 space, not IPv4 addresses. */
  | "mapped-prefix";

export type ParsedRange =
  | { readonly ok: true; readonly range: IpRange }
  | { readonly ok: false; readonly problem: RangeProblem };

/** What a valid range looks like, for error messages. */
export const RANGE_EXPECTED =
  "an IPv4 or IPv6 address, or a CIDR range ADDRESS/PREFIX (prefix 0 to 32 for IPv4, 0 to 128 for " +
  "IPv6; an IPv4-mapped ::ffff:a.b.c.d/PREFIX takes 96 to 128 and means the IPv4 range a.b.c.d/PREFIX-96)";

/**
 * Parses `ADDRESS` or `ADDRESS/PREFIX`. Host bits are cleared (`192.0.2.77/24` is `192.0.2.0/24`);
 * `::ffff:192.0.2.0/120` is `192.0.2.0/24`. A full-length prefix prints as the single address.
 */
export function parseRange(input: string): ParsedRange {
  const slash = input.indexOf("/");
  const written = addressBytes(slash < 0 ? input : input.slice(0, slash));
  if (written === null) return { ok: false, problem: "invalid" };
  let prefix = written.length * 8;
  if (slash >= 0) {
    const prefixText = input.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(prefixText)) return { ok: false, problem: "invalid" };
    prefix = Number(prefixText);
    if (prefix > written.length * 8) return { ok: false, problem: "prefix-out-of-range" };
  }
  let bytes = written;
  if (written.length === 16 && isIpv4Mapped(written)) {
    if (prefix < 96) return { ok: false, problem: "mapped-prefix" };
    bytes = written.slice(12);
    prefix -= 96;
  }
  const network = bytes.map((byte, i) => byte & (0xff << (8 - Math.min(8, Math.max(0, prefix - i * 8)))));
  const ip = ipFromBytes(network);
  const text = prefix === network.length * 8 ? ip.text : `${ip.text}/${prefix}`;
  return { ok: true, range: { family: ip.family, bytes: network, prefix, text } };
}

/**
 * True when the address lies in the range. IPv4 ranges hold IPv4 addresses (an IPv4-mapped address
 * is IPv4 once parsed); IPv6 ranges hold only IPv6 addresses, so `::/0` never covers IPv4.
 */
export function rangeContains(range: IpRange, ip: ParsedIp): boolean {
  if (range.family !== ip.family) return false;
  const whole = range.prefix >> 3;
  for (let i = 0; i < whole; i++) if (range.bytes[i] !== ip.bytes[i]) return false;
  const rest = range.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((ip.bytes[whole]! ^ range.bytes[whole]!) & mask) === 0;
}
