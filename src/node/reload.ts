import { isDeepStrictEqual } from "node:util";
import { loadFriends, loadNodeConfig } from "../config/load.js";
import type { FriendConfig, NodeConfig } from "../config/types.js";
import type { Logger } from "../util/logger.js";

/**
 * `systemctl reload f2bp2p` (SIGHUP): re-read what a running node can take on without a restart,
 * friends.d, `ignore` (bans of newly ignored addresses are lifted), the never-ban list sent to
 * friends (`share_never_ban`, `share_own_addresses`), the bans log and the auth log
 * (both reopened, for logrotate). A config, friend file or key that has
 * problems is refused as a whole: the node keeps running with what it has and logs why.
 */

/** What changes in the friend list, by identity: same keys and endpoint = the same friend. */
export interface FriendPlan<F> {
  /** Friends that stay, with their new config (name or trust may have changed). */
  readonly kept: readonly { readonly friend: F; readonly config: FriendConfig }[];
  readonly added: readonly FriendConfig[];
  readonly dropped: readonly F[];
}

/** Pure: how to get from the running friends to the ones in `next`. */
export function planFriends<F extends { readonly config: FriendConfig }>(
  current: readonly F[],
  next: readonly FriendConfig[],
): FriendPlan<F> {
  const identity = (c: FriendConfig): string =>
    `${Buffer.from(c.signingKey).toString("hex")} ${c.curveKey} ${c.endpoint}`;
  const byIdentity = new Map(current.map((f) => [identity(f.config), f]));
  const kept: { friend: F; config: FriendConfig }[] = [];
  const added: FriendConfig[] = [];
  for (const config of next) {
    const friend = byIdentity.get(identity(config));
    if (friend === undefined) added.push(config);
    else {
      kept.push({ friend, config });
      byIdentity.delete(identity(config));
    }
  }
  return { kept, added, dropped: [...byIdentity.values()] };
}

/** Settings the node reads once at start, by their name in f2bp2p.yaml. */
const RESTART_ONLY: Readonly<Record<string, keyof NodeConfig>> = {
  name: "name",
  listen: "listen",
  threshold: "threshold",
  report_lifetime: "reportLifetimeSeconds",
  max_hops: "maxHops",
  max_reports_per_friend: "maxReportsPerFriend",
  friend_reports_per_second: "friendReportsPerSecond",
  friend_burst: "friendBurst",
  sync_interval: "syncIntervalSeconds",
  bans_log: "bansLog",
  auth_log: "authLog",
  control_socket: "controlSocket",
  state_dir: "stateDir",
  keys_dir: "keysDir",
  friends_dir: "friendsDir",
  log_level: "logLevel",
  watch: "watch",
};

/** The parts of a running node a reload works on. */
export interface Reloadable {
  readonly config: NodeConfig;
  readonly identity: { readonly signingPublicKey: Buffer; readonly curvePublicKey: string };
  replaceFriends(friends: readonly FriendConfig[]): FriendPlan<unknown>;
  /** The new `ignore` list: applied at once, bans of its addresses lifted (F2bNode.setIgnoreList). */
  setIgnoreList(ignore: readonly string[]): void;
  /** The new never-ban list for friends (`share_never_ban`, `share_own_addresses`): sent at once when it changed. */
  setSharedNeverBan(configured: readonly string[], shareOwnAddresses: boolean): void;
  reopenBansLog(): void;
  reopenAuthLog(): void;
}

export type ReloadOutcome =
  | { readonly status: "kept"; readonly problems: string }
  | {
      readonly status: "reloaded";
      readonly friends: { readonly added: number; readonly dropped: number; readonly total: number };
      /** f2bp2p.yaml keys whose new values wait for a restart. */
      readonly restartNeeded: readonly string[];
    };

/** Re-reads the config file the node started with and its friends.d; see the module comment. */
export function reloadNode(node: Reloadable, log: Logger): ReloadOutcome {
  let config: NodeConfig;
  let friends: FriendConfig[];
  try {
    config = loadNodeConfig(node.config.file);
    friends = loadFriends(node.config.friendsDir, {
      signingKey: node.identity.signingPublicKey,
      curveKey: node.identity.curvePublicKey,
    });
  } catch (err: unknown) {
    const problems = err instanceof Error ? err.message : String(err);
    log.error("reload refused: the configuration has problems; still running with the one loaded before", {
      problems,
    });
    return { status: "kept", problems };
  }
  const restartNeeded = Object.entries(RESTART_ONLY)
    .filter(([, key]) => !isDeepStrictEqual(config[key], node.config[key]))
    .map(([name]) => name);
  if (restartNeeded.length > 0) {
    log.warn("reload: these settings change only when the node restarts (systemctl restart f2bp2p)", {
      settings: restartNeeded,
    });
  }
  const plan = node.replaceFriends(friends);
  node.reopenBansLog();
  node.setIgnoreList(config.ignore);
  node.setSharedNeverBan(config.shareNeverBan, config.shareOwnAddresses);
  node.reopenAuthLog();
  const summary = { added: plan.added.length, dropped: plan.dropped.length, total: friends.length };
  log.info("reloaded", { friends: summary.total, added: summary.added, dropped: summary.dropped });
  return { status: "reloaded", friends: summary, restartNeeded };
}
