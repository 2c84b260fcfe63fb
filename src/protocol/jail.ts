/**
 * Jail names: what fail2ban calls a jail, and the label a report carries on the wire
 * (docs/protocol.md section 5.3). The label is informational, so a ban is never dropped because
 * of its jail name: any name fail2ban accepts becomes a valid label by the rule of jailLabel.
 * Imports only constants, so the lean `report` path can load it.
 */
import { LIMITS } from "../config/defaults.js";
import { JAIL_NAME_PATTERN, MAX_JAIL_BYTES } from "./constants.js";

/** Characters kept from a name whose label has to be shortened, before the hash. */
const LABEL_PREFIX_CHARS = MAX_JAIL_BYTES - 9;

/**
 * The wire label of a fail2ban jail name. Deterministic, documented in docs/protocol.md 5.3:
 * 1. a name of 1 to 32 of `A-Z a-z 0-9 . _ -` is its own label; the empty name stays empty;
 * 2. otherwise every other character (per Unicode code point) becomes `_`;
 * 3. if that is longer than 32, the label is its first 23 characters, `_`, and the 8 lower-case hex
 *    digits of the 32-bit FNV-1a hash of the name's UTF-8 bytes (so two long names that share their
 *    first 23 characters still get different labels).
 * Never throws; the result always matches JAIL_NAME_PATTERN or is "".
 */
export function jailLabel(name: string): string {
  if (name === "" || JAIL_NAME_PATTERN.test(name)) return name;
  const replaced = Array.from(name, (ch) => (/^[A-Za-z0-9._-]$/.test(ch) ? ch : "_")).join("");
  if (replaced.length <= MAX_JAIL_BYTES) return replaced;
  return `${replaced.slice(0, LABEL_PREFIX_CHARS)}_${fnv1a32(name)}`;
}

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`, as 8 lower-case hex digits. */
export function fnv1a32(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** Longest fail2ban jail name f2bp2p reads (CLI, config `watch.jails`, fail2ban's log). */
export const MAX_FAIL2BAN_JAIL_CHARS = LIMITS.fail2ban_jail.max;

/**
 * A jail name as fail2ban accepts it in practice: a config section name that fail2ban-client can
 * name in a command, so anything but `]`, white space and control characters (fail2ban only warns
 * from 26 characters on). Bounded to MAX_FAIL2BAN_JAIL_CHARS so a garbled log line costs little.
 */
export const FAIL2BAN_JAIL_PATTERN = new RegExp(`^[^\\]\\s\\x00-\\x1f\\x7f]{1,${MAX_FAIL2BAN_JAIL_CHARS}}$`);
