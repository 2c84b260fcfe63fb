/**
 * Special-purpose address blocks (IANA IPv4 and IPv6 Special-Purpose Address Registries, RFC 6890
 * and its updates, plus multicast) that a node never bans and never reports by default: an address
 * there is not a host on the Internet that attacked us, or it means something else on each network
 * (a friend's 10.0.0.5 is not ours). The documentation ranges stay bannable on purpose: tests and
 * examples name attackers with them. Blocks that are globally reachable hosts (6to4 2002::/16,
 * Teredo 2001::/32, NAT64 64:ff9b::/96) stay bannable too. docs/configuration.md lists this table.
 */
import { type IpRange, parseRange } from "../protocol/ip.js";

export interface SpecialBlock {
  readonly range: IpRange;
  /** Registry name, shown when an address is not reported or not banned. */
  readonly name: string;
}

const TABLE: readonly (readonly [string, string])[] = [
  ["0.0.0.0/8", "this network (RFC 791)"],
  ["10.0.0.0/8", "private use (RFC 1918)"],
  ["100.64.0.0/10", "shared address space (RFC 6598)"],
  ["127.0.0.0/8", "loopback (RFC 1122)"],
  ["169.254.0.0/16", "link local (RFC 3927)"],
  ["172.16.0.0/12", "private use (RFC 1918)"],
  ["192.0.0.0/24", "IETF protocol assignments (RFC 6890)"],
  ["192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"],
  ["192.168.0.0/16", "private use (RFC 1918)"],
  ["198.18.0.0/15", "benchmarking (RFC 2544)"],
  ["224.0.0.0/4", "multicast (RFC 5771)"],
  ["240.0.0.0/4", "reserved (RFC 1112), including limited broadcast 255.255.255.255"],
  ["::/128", "unspecified address (RFC 4291)"],
  ["::1/128", "loopback (RFC 4291)"],
  ["64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"],
  ["100::/64", "discard-only (RFC 6666)"],
  ["2001:2::/48", "benchmarking (RFC 5180)"],
  ["2001:10::/28", "deprecated ORCHID (RFC 4843)"],
  ["5f00::/16", "segment routing SIDs (RFC 9602)"],
  ["fc00::/7", "unique local (RFC 4193)"],
  ["fe80::/10", "link local (RFC 4291)"],
  ["fec0::/10", "deprecated site local (RFC 3879)"],
  ["ff00::/8", "multicast (RFC 4291)"],
];

/** The never-banned special-purpose blocks, in the order of the table above. */
export const SPECIAL_PURPOSE_BLOCKS: readonly SpecialBlock[] = TABLE.map(([text, name]) => {
  const parsed = parseRange(text);
  if (!parsed.ok) throw new Error(`bad special-purpose block ${text}`);
  return { range: parsed.range, name };
});
