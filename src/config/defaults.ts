/**
 * Every default and limit of f2bp2p, defined once. No imports, so the lean `report` path can load
 * it. The docs' tables (docs/configuration.md, docs/protocol.md section 9) and the shipped
 * fail2ban files are checked against this module by test/config/defaults.test.ts.
 */

/** Where the CLI looks for the config without `-c` or `$F2BP2P_CONFIG`. */
export const DEFAULT_CONFIG_PATH = "/etc/f2bp2p/f2bp2p.yaml";

/** Defaults of f2bp2p.yaml, written as they would be in the file. */
export const NODE_DEFAULTS = {
  threshold: 80,
  report_lifetime: "24h",
  max_hops: 6,
  max_reports_per_friend: 250_000,
  /** Sustained reports per second a friend may send (rate limit before signature checks). */
  friend_reports_per_second: 200,
  /** Reports a friend may send at once after a quiet period (a resend after reconnecting, a catch-up). */
  friend_burst: 20_000,
  /**
   * How often a node asks each connected friend for what it may have missed (catch-up sync,
   * docs/protocol.md section 13), besides at every (re)connection: bounds what a link that dies
   * without a word can lose.
   */
  sync_interval: "30s",
  bans_log: "/var/log/f2bp2p/bans.log",
  /** Authentication failures and refused connections, for the f2bp2p-auth fail2ban jail. */
  auth_log: "/var/log/f2bp2p/auth.log",
  control_socket: "/run/f2bp2p/control.sock",
  state_dir: "/var/lib/f2bp2p",
  keys_dir: "keys",
  friends_dir: "friends.d",
  log_level: "info",
  /** Prometheus metrics endpoint, HOST:PORT; null: off (docs/metrics.md). */
  metrics_listen: null,
  /** Let `metrics_listen` bind an address other than loopback (127.0.0.0/8, ::1). */
  metrics_allow_remote: false,
  /**
   * Send friends this host's own public interface addresses in the never-ban list, besides the
   * ranges of `share_never_ban` (docs/protocol.md section 18).
   */
  share_own_addresses: true,
} as const;

/** Default of a friend file's `never_ban_applies_to_all`: its never-ban list holds back only its own reports. */
export const DEFAULT_NEVER_BAN_APPLIES_TO_ALL = false;

/**
 * The port the docs suggest for `metrics_listen` (127.0.0.1:7712): the one after the relay's usual
 * 7711. Prometheus' default port allocations (9100-9999) are all taken, and its guidance for
 * exporters without an allocation is a port outside that range (docs/metrics.md).
 */
export const SUGGESTED_METRICS_PORT = 7712;

/** Default of a friend file's `trust`, and of the trust `keygen` suggests to friends. */
export const DEFAULT_FRIEND_TRUST = 80;

/** Keys of the wire format (version 1) that config limits depend on; docs/protocol.md section 9. */
export const WIRE_LIMITS = {
  /** Keys in one path: a node's max_hops may only be lower. */
  MAX_PATH: 16,
  /** Longest jail label on the wire (docs/protocol.md 5.3). */
  MAX_JAIL_BYTES: 32,
  /** Longest IP field accepted (canonical text is at most 39). */
  MAX_IP_BYTES: 45,
  /** How far in the future a report's time may be before it is refused (clock skew allowance), ms. */
  MAX_CLOCK_SKEW_MS: 5 * 60 * 1000,
  /** Most ranges in one never-ban list (docs/protocol.md section 18). */
  MAX_NEVER_BAN_ENTRIES: 64,
  /** Widest prefix in a never-ban list: IPv4 /24, IPv6 /48. */
  NEVER_BAN_WIDEST_PREFIX_V4: 24,
  NEVER_BAN_WIDEST_PREFIX_V6: 48,
} as const;

/** Inclusive ranges of the config values (numbers; durations in seconds; lengths in characters). */
export const LIMITS = {
  threshold: { min: 1, max: 100 },
  report_lifetime: { min: 60, max: 30 * 86400 },
  max_hops: { min: 1, max: WIRE_LIMITS.MAX_PATH },
  max_reports_per_friend: { min: 1000, max: 10_000_000 },
  friend_reports_per_second: { min: 1, max: 1_000_000 },
  friend_burst: { min: 1, max: 10_000_000 },
  sync_interval: { min: 1, max: 3600 },
  trust: { min: 0, max: 100 },
  /** Node and friend names. */
  name: { min: 1, max: 64 },
  /** Unix socket paths are limited to 108 bytes by the kernel; a margin is kept. */
  control_socket_bytes: { min: 1, max: 99 },
  /** fail2ban jail names in `watch.jails`, the CLI and fail2ban's log. */
  fail2ban_jail: { min: 1, max: 256 },
} as const;

/** Unix socket of the running node (`control_socket`). */
export const DEFAULT_CONTROL_SOCKET = NODE_DEFAULTS.control_socket;

/** Folder of the node's persistent state (`state_dir`). */
export const DEFAULT_STATE_DIR = NODE_DEFAULTS.state_dir;

/** Mode of the state dir the node or `report` creates: readable by the node's user and group only. */
export const STATE_DIR_MODE = 0o750;

/** Name of the spool folder inside the state dir, the default of `spool_dir`. */
export const DEFAULT_SPOOL_SUBDIR = "spool";

/** `spool_dir` when the config does not set it: `spool/` inside `state_dir` (both absolute). */
export function defaultSpoolDir(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, "")}/${DEFAULT_SPOOL_SUBDIR}`;
}

/**
 * `f2bp2p unban-apply` (run as root, docs/fail2ban.md): its read position in the bans log, in a
 * folder of its own so the node's state_dir holds no root-owned file; and the jail it unbans in.
 */
export const UNBAN_APPLY_DEFAULTS = {
  position_file: "/var/lib/f2bp2p-unban/position.json",
  jail: "f2bp2p",
  fail2ban_client: "fail2ban-client",
} as const;
