/**
 * Pure validation of parsed configuration values: no file access, no environment.
 * load.ts reads and parses the files and hands the parsed values to the functions here.
 */

import * as net from "node:net";
import * as path from "node:path";
import { parseRange, RANGE_EXPECTED, type RangeProblem } from "../protocol/ip.js";
import { FAIL2BAN_JAIL_PATTERN, MAX_FAIL2BAN_JAIL_CHARS } from "../protocol/jail.js";
import {
  DEFAULT_FRIEND_TRUST,
  DEFAULT_NEVER_BAN_APPLIES_TO_ALL,
  defaultSpoolDir,
  LIMITS,
  NODE_DEFAULTS,
  SUGGESTED_METRICS_PORT,
  WIRE_LIMITS,
} from "./defaults.js";
import type { ConfigProblem, ConfigProblemCode } from "./errors.js";
import type { FriendConfig, MetricsListen, NodeConfig, WatchConfig } from "./types.js";

// ---------------------------------------------------------------------------
// Results of checking one value
// ---------------------------------------------------------------------------

/** Why one value was rejected; the file and key are added by the caller. */
export interface Invalid {
  readonly code: ConfigProblemCode;
  readonly expected: string;
  readonly got?: string;
}

export type Checked<T> = { readonly ok: true; readonly value: T } | ({ readonly ok: false } & Invalid);

/** A check for one value, with the words describing a valid one (used when the key is missing). */
export interface Rule<T> {
  readonly expected: string;
  readonly check: (value: unknown) => Checked<T>;
}

function ok<T>(value: T): Checked<T> {
  return { ok: true, value };
}

function bad(code: ConfigProblemCode, expected: string, got?: string): Checked<never> {
  return got === undefined ? { ok: false, code, expected } : { ok: false, code, expected, got };
}

/** A short, readable description of a parsed YAML value, for the `got` part of a problem. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "an empty value";
  if (typeof value === "string") {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return "a list";
  if (isMapping(value)) return "a mapping";
  return `a ${typeof value}`;
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return Object.prototype.toString.call(value) === "[object Object]";
}

function expectString(value: unknown, expected: string): Checked<string> {
  return typeof value === "string" ? ok(value) : bad("wrong-type", expected, describeValue(value));
}

// ---------------------------------------------------------------------------
// Numbers and durations
// ---------------------------------------------------------------------------

export function integerRule(min: number, max: number): Rule<number> {
  const expected = `a whole number from ${min} to ${max}`;
  return {
    expected,
    check(value) {
      if (typeof value !== "number") return bad("wrong-type", expected, describeValue(value));
      if (!Number.isInteger(value)) return bad("invalid-value", expected, describeValue(value));
      if (value < min || value > max) return bad("out-of-range", expected, describeValue(value));
      return ok(value);
    },
  };
}

function rangeRule(range: { readonly min: number; readonly max: number }): Rule<number> {
  return integerRule(range.min, range.max);
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { "": 1, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Seconds in a duration: a whole number of seconds (`3600`, as a number or digits), or digits
 * followed by one unit `s`, `m`, `h` or `d` (`90s`, `30m`, `24h`, `7d`). Null when not a duration.
 */
export function parseDuration(value: string | number): number | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : null;
  const match = /^([0-9]+)([smhd]?)$/.exec(value);
  if (match === null) return null;
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2]!]!;
  return Number.isSafeInteger(seconds) ? seconds : null;
}

function formatSeconds(seconds: number): string {
  const units: [number, string][] = [
    [86400, "day"],
    [3600, "hour"],
    [60, "minute"],
  ];
  const [size, unit] = units.find(([n]) => seconds % n === 0) ?? [1, "second"];
  const count = seconds / size;
  return `${count} ${unit}${count === 1 ? "" : "s"}`;
}

export function durationRule(minSeconds: number, maxSeconds: number): Rule<number> {
  const expected =
    `a duration from ${formatSeconds(minSeconds)} to ${formatSeconds(maxSeconds)}: ` +
    "whole seconds (3600) or a number with unit s, m, h or d (90s, 30m, 24h, 7d)";
  return {
    expected,
    check(value) {
      if (typeof value !== "number" && typeof value !== "string") {
        return bad("wrong-type", expected, describeValue(value));
      }
      const seconds = parseDuration(value);
      if (seconds === null) return bad("invalid-value", expected, describeValue(value));
      if (seconds < minSeconds || seconds > maxSeconds) {
        const got =
          typeof value === "number" ? `${value} seconds` : `${describeValue(value)} (${seconds} seconds)`;
        return bad("out-of-range", expected, got);
      }
      return ok(seconds);
    },
  };
}

// ---------------------------------------------------------------------------
// Names and enumerations
// ---------------------------------------------------------------------------

function namePatternRule(maxLength: number, what: string): Rule<string> {
  const expected = `${what} of 1 to ${maxLength} characters from A-Z a-z 0-9 . _ -`;
  const pattern = new RegExp(`^[A-Za-z0-9._-]{1,${maxLength}}$`);
  return {
    expected,
    check(value) {
      const text = expectString(value, expected);
      if (!text.ok) return text;
      return pattern.test(text.value) ? text : bad("invalid-value", expected, describeValue(value));
    },
  };
}

/** Node and friend names. */
export const nameRule: Rule<string> = namePatternRule(LIMITS.name.max, "a name");
/** fail2ban jail names as fail2ban accepts them (protocol/jail.ts); reports carry a label made from them. */
export const jailNameRule: Rule<string> = {
  expected: `a fail2ban jail name: 1 to ${MAX_FAIL2BAN_JAIL_CHARS} characters, no ] and no control characters`,
  check(value) {
    const text = expectString(value, jailNameRule.expected);
    if (!text.ok) return text;
    return FAIL2BAN_JAIL_PATTERN.test(text.value)
      ? text
      : bad("invalid-value", jailNameRule.expected, describeValue(value));
  },
};

export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const LOG_LEVEL_EXPECTED = `one of ${LOG_LEVELS.join(", ")}`;

export const logLevelRule: Rule<LogLevel> = {
  expected: LOG_LEVEL_EXPECTED,
  check(value) {
    const text = expectString(value, LOG_LEVEL_EXPECTED);
    if (!text.ok) return text;
    const level = LOG_LEVELS.find((l) => l === text.value);
    return level === undefined ? bad("invalid-value", LOG_LEVEL_EXPECTED, describeValue(value)) : ok(level);
  },
};

// ---------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------

export interface Endpoint {
  /** Host without brackets: an IPv4 address, an IPv6 address, `*`, or a DNS name. */
  readonly host: string;
  readonly port: number;
}

/** A DNS name (RFC 1123 labels); the last label may not be all digits, so `999.1.2.3` is not a name. */
function isDnsName(host: string): boolean {
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  const label = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  return labels.every((l) => label.test(l)) && !/^[0-9]+$/.test(labels[labels.length - 1]!);
}

function checkHost(host: string, allowWildcard: boolean, expected: string, got: string): Checked<string> {
  if (host.startsWith("[") && host.endsWith("]")) {
    const inner = host.slice(1, -1);
    return net.isIP(inner) === 6 ? ok(inner) : bad("invalid-value", expected, got);
  }
  if (host === "*" && allowWildcard) return ok(host);
  if (net.isIP(host) === 4 || isDnsName(host)) return ok(host);
  if (net.isIP(host) === 6) return bad("invalid-value", `${expected}; write IPv6 addresses in brackets`, got);
  return bad("invalid-value", expected, got);
}

function checkPort(text: string, expected: string, got: string): Checked<number> {
  if (!/^[0-9]{1,5}$/.test(text)) return bad("invalid-value", expected, got);
  const port = Number(text);
  return port >= 1 && port <= 65535 ? ok(port) : bad("out-of-range", expected, got);
}

function endpointExpected(allowWildcard: boolean): string {
  const hosts = allowWildcard
    ? "an IPv4 address, [IPv6 address], * or DNS name"
    : "an IPv4 address, [IPv6 address] or DNS name";
  return `a ZeroMQ endpoint tcp://HOST:PORT (HOST ${hosts}; PORT 1 to 65535)`;
}

/** Splits and checks `tcp://HOST:PORT`. `*` as HOST (every interface) only when `allowWildcard`. */
export function parseEndpoint(text: string, allowWildcard: boolean): Checked<Endpoint> {
  const expected = endpointExpected(allowWildcard);
  const got = describeValue(text);
  const rest = text.startsWith("tcp://") ? text.slice("tcp://".length) : null;
  const colon = rest === null ? -1 : rest.lastIndexOf(":");
  if (rest === null || colon < 0) return bad("invalid-value", expected, got);
  const host = checkHost(rest.slice(0, colon), allowWildcard, expected, got);
  if (!host.ok) return host;
  const port = checkPort(rest.slice(colon + 1), expected, got);
  if (!port.ok) return port;
  return ok({ host: host.value, port: port.value });
}

/** The host part of an already validated endpoint, without brackets (`tcp://[::1]:7711` gives `::1`). */
export function parseEndpointHost(endpoint: string): string {
  const parsed = parseEndpoint(endpoint, true);
  if (!parsed.ok) throw new TypeError(`not a tcp://HOST:PORT endpoint: ${JSON.stringify(endpoint)}`);
  return parsed.value.host;
}

export function endpointRule(allowWildcard: boolean): Rule<string> {
  const expected = endpointExpected(allowWildcard);
  return {
    expected,
    check(value) {
      const text = expectString(value, expected);
      if (!text.ok) return text;
      const parsed = parseEndpoint(text.value, allowWildcard);
      return parsed.ok ? text : parsed;
    },
  };
}

export const booleanRule: Rule<boolean> = {
  expected: "true or false",
  check(value) {
    return typeof value === "boolean" ? ok(value) : bad("wrong-type", "true or false", describeValue(value));
  },
};

/** True for 127.0.0.0/8 and ::1: addresses only this host can reach. */
export function isLoopbackAddress(host: string): boolean {
  if (net.isIP(host) === 4) return host.startsWith("127.");
  return net.isIP(host) === 6 && new net.SocketAddress({ address: host, family: "ipv6" }).address === "::1";
}

/**
 * `metrics_listen`: `HOST:PORT` with HOST an IP address (IPv6 in brackets), or empty / null for
 * off. Only a loopback HOST unless `allowRemote` (`metrics_allow_remote: true`): the endpoint has
 * no authentication, and its friend names and counts are nobody else's business.
 */
export function metricsListenRule(allowRemote: boolean): Rule<MetricsListen | null> {
  const hosts = allowRemote ? "an IP address" : "a loopback address (127.0.0.1, [::1])";
  const expected = `HOST:PORT with HOST ${hosts} and PORT 1 to 65535, e.g. 127.0.0.1:${SUGGESTED_METRICS_PORT}; or nothing for off`;
  return {
    expected,
    check(value) {
      if (value === null) return ok(null);
      const text = expectString(value, expected);
      if (!text.ok) return text;
      const got = describeValue(value);
      const colon = text.value.lastIndexOf(":");
      if (colon < 0) return bad("invalid-value", expected, got);
      const hostText = text.value.slice(0, colon);
      const bracketed = hostText.startsWith("[") && hostText.endsWith("]");
      const host = bracketed ? hostText.slice(1, -1) : hostText;
      const family = net.isIP(host);
      if (family === 0 || (family === 6) !== bracketed) return bad("invalid-value", expected, got);
      const port = checkPort(text.value.slice(colon + 1), expected, got);
      if (!port.ok) return port;
      if (!allowRemote && !isLoopbackAddress(host)) {
        return bad(
          "invalid-value",
          `${expected} (set metrics_allow_remote: true to serve metrics to other hosts)`,
          got,
        );
      }
      return ok({ host, port: port.value });
    },
  };
}

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

/** A file system path; relative paths resolve against `baseDir` (the config file's folder). */
export function pathRule(baseDir: string): Rule<string> {
  const expected = "a path, absolute or relative to the config file's folder (~ is not expanded)";
  return {
    expected,
    check(value) {
      const text = expectString(value, expected);
      if (!text.ok) return text;
      const p = text.value;
      if (p === "" || p.includes("\0") || p.startsWith("~")) {
        return bad("invalid-value", expected, describeValue(p));
      }
      return ok(path.resolve(baseDir, p));
    },
  };
}

/** Unix socket paths are limited to 108 bytes by the kernel; we keep a margin. */
export const MAX_SOCKET_PATH_BYTES = LIMITS.control_socket_bytes.max;

export function socketPathRule(baseDir: string): Rule<string> {
  const base = pathRule(baseDir);
  const expected = `${base.expected}, at most ${MAX_SOCKET_PATH_BYTES} bytes long once resolved`;
  return {
    expected,
    check(value) {
      const resolved = base.check(value);
      if (!resolved.ok) return resolved;
      const bytes = Buffer.byteLength(resolved.value);
      if (bytes > MAX_SOCKET_PATH_BYTES) {
        return bad("out-of-range", expected, `${bytes} bytes (${JSON.stringify(resolved.value)})`);
      }
      return resolved;
    },
  };
}

// ---------------------------------------------------------------------------
// IP addresses and CIDR ranges: the grammar of protocol/ip.ts, shared with the never-ban list
// ---------------------------------------------------------------------------

const RANGE_PROBLEM_CODE: Readonly<Record<RangeProblem, ConfigProblemCode>> = {
  invalid: "invalid-value",
  "prefix-out-of-range": "out-of-range",
  "mapped-prefix": "out-of-range",
};

/**
 * Checks an IP address or CIDR range and returns it normalised (protocol/ip.ts parseRange): IPv6
 * compressed and lower case, a range written as its network address (`192.0.2.77/24` gives
 * `192.0.2.0/24`), an IPv4-mapped range as the IPv4 range (`::ffff:192.0.2.0/120` gives `192.0.2.0/24`).
 */
export function normaliseIpOrCidr(text: string): Checked<string> {
  const parsed = parseRange(text);
  if (parsed.ok) return ok(parsed.range.text);
  return bad(RANGE_PROBLEM_CODE[parsed.problem], RANGE_EXPECTED, describeValue(text));
}

const IGNORE_EXPECTED = RANGE_EXPECTED;

export const ipOrCidrRule: Rule<string> = {
  expected: IGNORE_EXPECTED,
  check(value) {
    const text = expectString(value, IGNORE_EXPECTED);
    return text.ok ? normaliseIpOrCidr(text.value) : text;
  },
};

const NEVER_BAN_RANGE_EXPECTED = `${IGNORE_EXPECTED}, no wider than /${WIRE_LIMITS.NEVER_BAN_WIDEST_PREFIX_V4} for IPv4 or /${WIRE_LIMITS.NEVER_BAN_WIDEST_PREFIX_V6} for IPv6`;

/** An entry of `share_never_ban`: an address or range a friend's never-ban list may hold (protocol section 18). */
export const neverBanRangeRule: Rule<string> = {
  expected: NEVER_BAN_RANGE_EXPECTED,
  check(value) {
    const checked = ipOrCidrRule.check(value);
    if (!checked.ok) return { ...checked, expected: NEVER_BAN_RANGE_EXPECTED };
    const parsed = parseRange(checked.value);
    const widest =
      parsed.ok && parsed.range.family === 4
        ? WIRE_LIMITS.NEVER_BAN_WIDEST_PREFIX_V4
        : WIRE_LIMITS.NEVER_BAN_WIDEST_PREFIX_V6;
    if (parsed.ok && parsed.range.prefix < widest)
      return {
        ok: false,
        code: "out-of-range",
        expected: `a range no wider than /${widest} for IPv${parsed.range.family} (a never-ban list names hosts, a home or an office)`,
        got: checked.value,
      };
    return checked;
  },
};

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

const SIGNING_KEY_EXPECTED = "an Ed25519 public key: base64 of exactly 32 bytes (44 characters ending in =)";

export const signingKeyRule: Rule<Uint8Array> = {
  expected: SIGNING_KEY_EXPECTED,
  check(value) {
    const text = expectString(value, SIGNING_KEY_EXPECTED);
    if (!text.ok) return text;
    const got = describeValue(value);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text.value) || text.value.length % 4 !== 0) {
      return bad("invalid-value", SIGNING_KEY_EXPECTED, `${got} (not base64)`);
    }
    const bytes = Buffer.from(text.value, "base64");
    if (bytes.length !== 32) {
      return bad("invalid-value", SIGNING_KEY_EXPECTED, `${got} (${bytes.length} bytes)`);
    }
    if (bytes.toString("base64") !== text.value) {
      return bad("invalid-value", SIGNING_KEY_EXPECTED, `${got} (not canonical base64)`);
    }
    return ok(new Uint8Array(bytes));
  },
};

export const Z85_ALPHABET =
  "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/** True when every 5-character group decodes to a 32-bit value (Z85 can spell larger ones). */
function z85GroupsFit(text: string): boolean {
  for (let i = 0; i < text.length; i += 5) {
    let n = 0;
    for (const ch of text.slice(i, i + 5)) n = n * 85 + Z85_ALPHABET.indexOf(ch);
    if (n > 0xffffffff) return false;
  }
  return true;
}

const CURVE_KEY_EXPECTED = "a CURVE public key: Z85 text of exactly 40 characters";

export const curveKeyRule: Rule<string> = {
  expected: CURVE_KEY_EXPECTED,
  check(value) {
    const text = expectString(value, CURVE_KEY_EXPECTED);
    if (!text.ok) return text;
    const key = text.value;
    const got = describeValue(key);
    if (key.length !== 40) {
      return bad("invalid-value", CURVE_KEY_EXPECTED, `${got} (${key.length} characters)`);
    }
    const stray = [...key].find((ch) => !Z85_ALPHABET.includes(ch));
    if (stray !== undefined) {
      return bad(
        "invalid-value",
        CURVE_KEY_EXPECTED,
        `${got} (${JSON.stringify(stray)} is not a Z85 character)`,
      );
    }
    return z85GroupsFit(key) ? text : bad("invalid-value", CURVE_KEY_EXPECTED, `${got} (not valid Z85)`);
  },
};

// ---------------------------------------------------------------------------
// Unknown keys
// ---------------------------------------------------------------------------

export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known key a mistyped one was probably meant to be: same words in snake_case, or within 2 edits. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const snake = key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/-/g, "_")
    .toLowerCase();
  if (known.includes(snake)) return snake;
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(snake, candidate);
    if (distance <= 2 && (best === undefined || distance < best.distance)) {
      best = { key: candidate, distance };
    }
  }
  return best?.key;
}

function unknownKeyExpected(key: string, known: readonly string[]): string {
  const hint = suggestKey(key, known);
  return hint === undefined
    ? `one of the known keys (${known.join(", ")})`
    : `a known key (did you mean ${JSON.stringify(hint)}?)`;
}

// ---------------------------------------------------------------------------
// Reading one mapping, collecting every problem
// ---------------------------------------------------------------------------

class MappingReader {
  private readonly known: string[] = [];

  constructor(
    private readonly map: Record<string, unknown>,
    private readonly file: string,
    private readonly prefix: string,
    private readonly problems: ConfigProblem[],
  ) {}

  required<T>(key: string, rule: Rule<T>): T | undefined {
    this.known.push(key);
    if (!Object.hasOwn(this.map, key)) {
      this.report(key, {
        code: "missing-key",
        expected: rule.expected,
        got: "nothing (this key is required)",
      });
      return undefined;
    }
    return this.take(key, this.map[key], rule);
  }

  /** `fallback` is written as in the file and checked by the same rule, so relative defaults resolve too. */
  optional<T>(key: string, rule: Rule<T>, fallback: unknown): T | undefined {
    this.known.push(key);
    return this.take(key, Object.hasOwn(this.map, key) ? this.map[key] : fallback, rule);
  }

  /** A list of at most `maxItems` whose items each follow `rule`; problems name the item (`ignore[2]`). */
  list<T>(key: string, rule: Rule<T>, maxItems = Number.POSITIVE_INFINITY): T[] | undefined {
    this.known.push(key);
    if (!Object.hasOwn(this.map, key)) return [];
    const value = this.map[key];
    const most = Number.isFinite(maxItems) ? ` (at most ${maxItems})` : "";
    const expected = `a list${most}, each item ${rule.expected}`;
    if (!Array.isArray(value)) {
      return this.fail(key, { code: "wrong-type", expected, got: describeValue(value) });
    }
    if (value.length > maxItems) {
      return this.fail(key, { code: "out-of-range", expected, got: `${value.length} items` });
    }
    const items = value.map((item, i) => this.take(`${key}[${i}]`, item, rule));
    return items.every((item) => item !== undefined) ? (items as T[]) : undefined;
  }

  /** A nested mapping read with its own reader; null when the key is absent. */
  mapping(key: string): MappingReader | null | undefined {
    this.known.push(key);
    if (!Object.hasOwn(this.map, key)) return null;
    const value = this.map[key];
    if (!isMapping(value)) {
      return this.fail(key, { code: "wrong-type", expected: "a mapping", got: describeValue(value) });
    }
    return new MappingReader(value, this.file, `${this.prefix}${key}.`, this.problems);
  }

  /** Reports every key that no call above asked for. Call last. */
  rejectUnknownKeys(): void {
    for (const key of Object.keys(this.map)) {
      if (this.known.includes(key)) continue;
      this.report(key, {
        code: "unknown-key",
        expected: unknownKeyExpected(key, this.known),
        got: "an unknown key",
      });
    }
  }

  private take<T>(key: string, value: unknown, rule: Rule<T>): T | undefined {
    const checked = rule.check(value);
    return checked.ok ? checked.value : this.fail(key, checked);
  }

  private fail(key: string, invalid: Invalid): undefined {
    this.report(key, invalid);
    return undefined;
  }

  private report(key: string, invalid: Invalid): void {
    const { code, expected, got } = invalid;
    const problem: ConfigProblem = { file: this.file, key: `${this.prefix}${key}`, code, expected };
    this.problems.push(got === undefined ? problem : { ...problem, got });
  }
}

function notAMapping(file: string, value: unknown, expected: string): ConfigProblem {
  const got = value === null || value === undefined ? "an empty file" : describeValue(value);
  return { file, key: "", code: "not-a-mapping", expected, got };
}

// ---------------------------------------------------------------------------
// f2bp2p.yaml
// ---------------------------------------------------------------------------

/** Defaults, written as they would be in the file (config/defaults.ts). */
export { NODE_DEFAULTS };

export interface NodeValidation {
  /** Null when there is at least one problem. */
  readonly config: NodeConfig | null;
  readonly problems: ConfigProblem[];
}

function readWatch(
  reader: MappingReader | null | undefined,
  baseDir: string,
): WatchConfig | null | undefined {
  if (reader === null || reader === undefined) return reader;
  const fail2banLog = reader.required("fail2ban_log", pathRule(baseDir));
  const jails = reader.list("jails", jailNameRule);
  reader.rejectUnknownKeys();
  return fail2banLog === undefined || jails === undefined ? undefined : { fail2banLog, jails };
}

/** Checks a parsed f2bp2p.yaml. `file` must be absolute; relative paths resolve against its folder. */
export function validateNodeDocument(raw: unknown, file: string): NodeValidation {
  const problems: ConfigProblem[] = [];
  if (!isMapping(raw)) {
    problems.push(notAMapping(file, raw, "a mapping of settings (key: value lines)"));
    return { config: null, problems };
  }
  const baseDir = path.dirname(file);
  const r = new MappingReader(raw, file, "", problems);
  const d = NODE_DEFAULTS;
  const values = {
    file,
    name: r.required("name", nameRule),
    listen: r.required("listen", endpointRule(true)),
    threshold: r.optional("threshold", rangeRule(LIMITS.threshold), d.threshold),
    reportLifetimeSeconds: r.optional(
      "report_lifetime",
      durationRule(LIMITS.report_lifetime.min, LIMITS.report_lifetime.max),
      d.report_lifetime,
    ),
    maxHops: r.optional("max_hops", rangeRule(LIMITS.max_hops), d.max_hops),
    maxReportsPerFriend: r.optional(
      "max_reports_per_friend",
      rangeRule(LIMITS.max_reports_per_friend),
      d.max_reports_per_friend,
    ),
    friendReportsPerSecond: r.optional(
      "friend_reports_per_second",
      rangeRule(LIMITS.friend_reports_per_second),
      d.friend_reports_per_second,
    ),
    friendBurst: r.optional("friend_burst", rangeRule(LIMITS.friend_burst), d.friend_burst),
    syncIntervalSeconds: r.optional(
      "sync_interval",
      durationRule(LIMITS.sync_interval.min, LIMITS.sync_interval.max),
      d.sync_interval,
    ),
    bansLog: r.optional("bans_log", pathRule(baseDir), d.bans_log),
    authLog: r.optional("auth_log", pathRule(baseDir), d.auth_log),
    controlSocket: r.optional("control_socket", socketPathRule(baseDir), d.control_socket),
    stateDir: r.optional("state_dir", pathRule(baseDir), d.state_dir),
    spoolDir: undefined as string | undefined,
    keysDir: r.optional("keys_dir", pathRule(baseDir), d.keys_dir),
    friendsDir: r.optional("friends_dir", pathRule(baseDir), d.friends_dir),
    ignore: r.list("ignore", ipOrCidrRule),
    specialBannable: r.list("special_bannable", ipOrCidrRule),
    shareNeverBan: r.list("share_never_ban", neverBanRangeRule, WIRE_LIMITS.MAX_NEVER_BAN_ENTRIES),
    shareOwnAddresses: r.optional("share_own_addresses", booleanRule, d.share_own_addresses),
    logLevel: r.optional("log_level", logLevelRule, d.log_level),
    watch: readWatch(r.mapping("watch"), baseDir),
    metricsListen: r.optional(
      "metrics_listen",
      metricsListenRule(r.optional("metrics_allow_remote", booleanRule, d.metrics_allow_remote) === true),
      d.metrics_listen,
    ),
  };
  // The default follows state_dir, so it is resolved once state_dir is known.
  values.spoolDir = r.optional(
    "spool_dir",
    pathRule(baseDir),
    defaultSpoolDir(values.stateDir ?? d.state_dir),
  );
  r.rejectUnknownKeys();
  // With no problems every value above is defined.
  return { config: problems.length === 0 ? (values as NodeConfig) : null, problems };
}

// ---------------------------------------------------------------------------
// friends.d/*.yaml
// ---------------------------------------------------------------------------

/** What a friend file says about who the friend is, even when other keys are wrong (for cross-file checks). */
export interface FriendIdentity {
  readonly file: string;
  readonly name?: string;
  readonly signingKey?: Uint8Array;
  readonly curveKey?: string;
}

export interface FriendValidation {
  /** Null when there is at least one problem in this file. */
  readonly friend: FriendConfig | null;
  readonly identity: FriendIdentity;
  readonly problems: ConfigProblem[];
}

/** Checks one parsed friend file on its own; see crossCheckFriends for checks across files. */
export function validateFriendDocument(raw: unknown, file: string): FriendValidation {
  const problems: ConfigProblem[] = [];
  if (!isMapping(raw)) {
    problems.push(notAMapping(file, raw, "a mapping with name, endpoint, signing_key and curve_key"));
    return { friend: null, identity: { file }, problems };
  }
  const r = new MappingReader(raw, file, "", problems);
  const values = {
    file,
    name: r.required("name", nameRule),
    endpoint: r.required("endpoint", endpointRule(false)),
    signingKey: r.required("signing_key", signingKeyRule),
    curveKey: r.required("curve_key", curveKeyRule),
    trust: r.optional("trust", rangeRule(LIMITS.trust), DEFAULT_FRIEND_TRUST),
    neverBanAppliesToAll: r.optional(
      "never_ban_applies_to_all",
      booleanRule,
      DEFAULT_NEVER_BAN_APPLIES_TO_ALL,
    ),
  };
  r.rejectUnknownKeys();
  const { name, signingKey, curveKey } = values;
  return {
    friend: problems.length === 0 ? (values as FriendConfig) : null,
    identity: { file, name, signingKey, curveKey },
    problems,
  };
}

/** Our own public keys, which no friend may have. */
export interface SelfKeys {
  readonly signingKey: Uint8Array;
  readonly curveKey: string;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

interface Claim {
  /** The key in the friend file. */
  readonly key: "name" | "signing_key" | "curve_key";
  /** What must be unique across friend files. */
  readonly id: string;
  readonly code: ConfigProblemCode;
  readonly what: string;
}

function claimsOf(f: FriendIdentity): Claim[] {
  const claims: Claim[] = [];
  if (f.name !== undefined) {
    const what = `the name ${JSON.stringify(f.name)}`;
    claims.push({ key: "name", id: `name:${f.name}`, code: "duplicate-friend-name", what });
  }
  if (f.signingKey !== undefined) {
    const id = `signing:${Buffer.from(f.signingKey).toString("base64")}`;
    claims.push({ key: "signing_key", id, code: "duplicate-friend-key", what: "the same signing key" });
  }
  if (f.curveKey !== undefined) {
    const id = `curve:${f.curveKey}`;
    claims.push({ key: "curve_key", id, code: "duplicate-friend-key", what: "the same CURVE key" });
  }
  return claims;
}

function selfProblems(f: FriendIdentity, self: SelfKeys): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const code = "friend-is-self";
  if (f.signingKey !== undefined && sameBytes(f.signingKey, self.signingKey)) {
    problems.push({
      file: f.file,
      key: "signing_key",
      code,
      expected: "another node's key",
      got: "this node's own key",
    });
  }
  if (f.curveKey !== undefined && f.curveKey === self.curveKey) {
    problems.push({
      file: f.file,
      key: "curve_key",
      code,
      expected: "another node's key",
      got: "this node's own key",
    });
  }
  return problems;
}

/**
 * Checks across friend files, in the order given: a name or key already used by an earlier file
 * is reported on the later file; a friend with one of our own keys is reported on its file.
 */
export function crossCheckFriends(friends: readonly FriendIdentity[], self: SelfKeys): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const firstFile = new Map<string, string>();
  for (const f of friends) {
    problems.push(...selfProblems(f, self));
    for (const claim of claimsOf(f)) {
      const earlier = firstFile.get(claim.id);
      if (earlier === undefined) {
        firstFile.set(claim.id, f.file);
        continue;
      }
      const expected = "a value no other friend file has";
      problems.push({
        file: f.file,
        key: claim.key,
        code: claim.code,
        expected,
        got: `${claim.what} as ${earlier}`,
      });
    }
  }
  return problems;
}
