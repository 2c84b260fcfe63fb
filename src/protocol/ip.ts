import net from "node:net";
import { MAX_IP_BYTES } from "./constants.js";

export type IpFamily = 4 | 6;

export interface ParsedIp {
  /** Canonical text: dotted quad for IPv4; for IPv6 what net.SocketAddress writes (RFC 5952 style, lower case, compressed; IPv4-compatible forms keep a dotted tail). */
  readonly text: string;
  readonly family: IpFamily;
}

const IPV4_MAPPED = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/**
 * Parses and normalises an IP address with node's own parser (net.isIP, net.SocketAddress).
 * IPv4-mapped IPv6 (::ffff:192.0.2.1) folds to IPv4 so one attacker has one key.
 * Returns null for anything that is not a plain address: hostnames, CIDRs, zone ids, ports.
 */
export function parseIp(input: string): ParsedIp | null {
  if (input.length === 0 || input.length > MAX_IP_BYTES || input.includes("%")) return null;
  const family = net.isIP(input);
  // net.isIP accepts only the strict dotted quad (no leading zeros, no short forms): already canonical.
  if (family === 4) return { text: input, family: 4 };
  if (family !== 6) return null;
  const text = canonicalIpv6(input);
  if (text === null) return null;
  const mapped = IPV4_MAPPED.exec(text);
  if (mapped) return parseIp(mapped[1]!);
  return { text, family: 6 };
}

/** True when the text is already exactly the canonical form parseIp would produce. */
export function isCanonicalIp(text: string): boolean {
  return parseIp(text)?.text === text;
}

function canonicalIpv6(input: string): string | null {
  try {
    return new net.SocketAddress({ address: input, family: "ipv6" }).address;
  } catch {
    return null;
  }
}
