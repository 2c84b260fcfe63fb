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

const COLON = 0x3a;
const DOT = 0x2e;

/**
 * Bytes of the address as written: 4 for IPv4, 16 for IPv6 (IPv4-mapped not folded); null when the
 * text is not exactly one address. One pass over the characters, no regular expression or splitting:
 * every report's address comes through here.
 *
 * Accepts exactly the strings Node 20's net.isIP accepts as IPv4 or IPv6, minus zone ids (`%eth0`),
 * empty text and text over MAX_IP_BYTES characters (test/protocol/ip.test.ts compares the two):
 * - IPv4: four decimal octets 0–255 joined by `.`, no leading zeros (`0` itself is fine).
 * - IPv6 (RFC 4291 section 2.2): eight groups of 1–4 hex digits (either case) joined by `:`; the last
 *   two groups may be written as an IPv4 dotted quad; one `::` may stand for one or more zero groups,
 *   anywhere, so the groups written beside it number at most seven (the dotted quad counts as two).
 */
export function addressBytes(input: string): Uint8Array | null {
  // The grammar has no `%`, brackets or slash: zone ids, URLs and ranges fail below.
  if (input.length === 0 || input.length > MAX_IP_BYTES) return null;
  if (input.indexOf(":") < 0) {
    const out = new Uint8Array(4);
    return readDottedQuad(input, 0, out, 0) ? out : null;
  }
  return ipv6Bytes(input);
}

/** IPv6 text (RFC 4291 section 2.2, as net.isIPv6 reads it) to 16 bytes, or null. */
function ipv6Bytes(text: string): Uint8Array | null {
  const end = text.length;
  const out = new Uint8Array(16);
  let at = 0; // next byte to write
  let gap = -1; // byte offset where `::` stands, once seen
  let i = 0;
  if (text.charCodeAt(0) === COLON) {
    if (text.charCodeAt(1) !== COLON) return null; // a lone leading `:`
    gap = 0;
    i = 2;
    if (i === end) return out; // `::`
  }
  for (;;) {
    // One group: up to four hex digits, or a dotted quad that ends the text.
    const groupStart = i;
    let value = 0;
    for (; i < end; i++) {
      const digit = hexDigit(text.charCodeAt(i));
      if (digit < 0) break;
      if (i - groupStart === 4) return null; // a fifth hex digit
      value = (value << 4) | digit;
    }
    if (i < end && text.charCodeAt(i) === DOT) {
      // Its digits were read as hex above: read them again as decimal, into the last 32 bits free.
      if (at > 12 || !readDottedQuad(text, groupStart, out, at)) return null;
      at += 4;
      break;
    }
    if (i === groupStart || at === 16) return null; // an empty group, or a ninth one
    out[at++] = value >> 8;
    out[at++] = value & 0xff;
    if (i === end) break;
    if (text.charCodeAt(i) !== COLON) return null;
    i++;
    if (text.charCodeAt(i) === COLON) {
      if (gap >= 0) return null; // a second `::`
      gap = at;
      i++;
      if (i === end) break; // a trailing `::`
    } else if (i === end) {
      return null; // a lone trailing `:`
    }
  }
  if (gap < 0) return at === 16 ? out : null;
  if (at > 14) return null; // `::` stands for at least one group
  // The groups after `::` belong at the end; the ones it stands for are zero.
  const after = at - gap;
  out.copyWithin(16 - after, gap, at);
  out.fill(0, gap, 16 - after);
  return out;
}

/** Value of one hex digit's char code (`0-9`, `a-f`, `A-F`), or -1. */
function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20; // ASCII letters only differ in this bit
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Reads `text` from `start` to its end as a dotted quad into out[at..at+4]. False unless it is four
 * decimal octets 0–255 without leading zeros (net.isIPv4's strict form: no `010`, no `1.2.3`).
 */
function readDottedQuad(text: string, start: number, out: Uint8Array, at: number): boolean {
  let octets = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : DOT; // the end closes the last octet
    if (code === DOT) {
      if (digits === 0 || octets === 4) return false;
      out[at + octets++] = value;
      value = 0;
      digits = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      if (digits > 0 && value === 0) return false; // a leading zero
      value = value * 10 + (code - 0x30);
      if (value > 255) return false;
      digits++;
    } else {
      return false;
    }
  }
  return octets === 4;
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
