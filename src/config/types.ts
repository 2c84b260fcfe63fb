/** The node's own settings, from f2bp2p.yaml. All paths are absolute after loading. */
export interface NodeConfig {
  /** Where this config came from (absolute path); every relative path resolves against its folder. */
  readonly file: string;
  /** Human name of this node, shown in logs and friend blocks. 1–64 of [A-Za-z0-9._-]. */
  readonly name: string;
  /** ZeroMQ endpoint this node binds, e.g. tcp://0.0.0.0:7711 or tcp://127.0.0.1:7711. */
  readonly listen: string;
  /** Score (0–100) at or above which an IP is written to the bans log. Default 80. */
  readonly threshold: number;
  /** How long a report counts, in seconds (60 – 30 days). Default 86400. */
  readonly reportLifetimeSeconds: number;
  /** Longest path a report may travel, origin included (1–16). Default 6. */
  readonly maxHops: number;
  /**
   * Most live reports one friend may bring into this node's memory (1000–10,000,000, default
   * 250,000). A friend can sign reports as invented origins; this keeps one from exhausting memory.
   */
  readonly maxReportsPerFriend: number;
  /** Reports per second one friend may send before its messages are dropped unverified (1 – 1,000,000). */
  readonly friendReportsPerSecond: number;
  /** Reports one friend may send at once after a quiet period (1 – 10,000,000). */
  readonly friendBurst: number;
  /** Seconds between catch-up syncs with each connected friend (`sync_interval`). */
  readonly syncIntervalSeconds: number;
  /** File that fail2ban's f2bp2p jail watches. */
  readonly bansLog: string;
  /** File of refused connection attempts (one line each) that fail2ban's f2bp2p-auth jail watches. */
  readonly authLog: string;
  /** Unix socket for `f2bp2p report`, created with mode 0660. */
  readonly controlSocket: string;
  /** Folder for the node's persistent state. */
  readonly stateDir: string;
  /**
   * Folder where `f2bp2p report` leaves reports the node could not take (not running, starting,
   * hung); the node takes them in at start and while running. Default: spool/ inside stateDir.
   */
  readonly spoolDir: string;
  /** Folder with the node's keys (node.key, node.pub). Default: keys/ beside the config file. */
  readonly keysDir: string;
  /** Folder with one YAML file per friend. Default: friends.d/ beside the config file. */
  readonly friendsDir: string;
  /** IPs and CIDRs never written to the bans log nor reported (normalised text, e.g. 192.0.2.0/24). */
  readonly ignore: readonly string[];
  /**
   * Special-purpose ranges (e.g. 10.0.0.0/8 on one organisation's network) this node bans and
   * reports like any other address; by default none (node/special-purpose.ts). Normalised text.
   */
  readonly specialBannable: readonly string[];
  /**
   * Ranges this node asks its friends never to ban because of it (its never-ban list, docs/protocol.md
   * section 18): at most 64, none wider than /24 (IPv4) or /48 (IPv6).
   */
  readonly shareNeverBan: readonly string[];
  /** Add this host's public interface addresses to the never-ban list. */
  readonly shareOwnAddresses: boolean;
  /** Operational log level: error, warn, info, debug. Default info. */
  readonly logLevel: "error" | "warn" | "info" | "debug";
  /**
   * Where the Prometheus metrics endpoint listens (`metrics_listen`), or null when it is off (the
   * default). A loopback address unless `metrics_allow_remote` is true.
   */
  readonly metricsListen: MetricsListen | null;
  /** Optional: follow fail2ban's own log and report its bans (issue: log-watch ingestion). */
  readonly watch: WatchConfig | null;
}

/** An HTTP listening address: an IP address (no brackets) and a TCP port. */
export interface MetricsListen {
  readonly host: string;
  readonly port: number;
}

export interface WatchConfig {
  /** fail2ban's log, usually /var/log/fail2ban.log. */
  readonly fail2banLog: string;
  /** Jails whose `Ban` lines are reported; an empty list means every jail except the f2bp2p one. */
  readonly jails: readonly string[];
}

/** One friend, from friends.d/NAME.yaml. */
export interface FriendConfig {
  /** The file it came from (absolute). */
  readonly file: string;
  readonly name: string;
  /** ZeroMQ endpoint we connect to, e.g. tcp://alpha.example.net:7711. */
  readonly endpoint: string;
  /** Ed25519 signing public key, 32 bytes (base64 in the file). */
  readonly signingKey: Uint8Array;
  /** CURVE public key, 32 bytes (Z85, 40 chars, in the file). */
  readonly curveKey: string;
  /** How much we trust this friend's reports, 0–100. Default 80. */
  readonly trust: number;
  /**
   * Let this friend's never-ban list hold back every report of its addresses here, not only the
   * friend's own and those relayed through it (docs/trust.md: a rogue friend could shield an attacker).
   */
  readonly neverBanAppliesToAll: boolean;
}
