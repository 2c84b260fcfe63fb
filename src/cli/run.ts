import path from "node:path";
import * as zmq from "zeromq";
import { ConfigError } from "../config/errors.js";
import { findConfigPath, loadFriends, loadNodeConfig } from "../config/load.js";
import { Fail2banLogWatcher } from "../ingest/log-follower.js";
import { loadIdentity } from "../keys/identity.js";
import { controlHandler } from "../node/control-handler.js";
import { ControlServer } from "../node/control-server.js";
import { F2bNode } from "../node/node.js";
import { openNodeState } from "../state/open.js";
import { createLogger } from "../util/logger.js";
import { permissionFindings } from "./preflight.js";

/** A node with everything around it that `f2bp2p run` starts, and stops again in reverse order. */
export interface RunningNode {
  readonly node: F2bNode;
  stop(): Promise<void>;
}

/** Loads and validates everything first (throws ConfigError / KeyError before anything starts). */
export async function startNode(
  configOption: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<RunningNode> {
  const config = loadNodeConfig(findConfigPath(configOption, env));
  const permissions = permissionFindings(config);
  if (permissions.problems.length > 0) throw new ConfigError(permissions.problems);
  const identity = loadIdentity(config.keysDir);
  const friends = loadFriends(config.friendsDir, {
    signingKey: identity.signingPublicKey,
    curveKey: identity.curvePublicKey,
  });
  const log = createLogger(config.logLevel, config.name);
  for (const warning of permissions.warnings) log.warn(warning);
  // The state dir's lock comes first: a second node stops here, before it touches any file.
  const state = openNodeState(config.stateDir);
  const node = new F2bNode(config, friends, identity, {
    now: Date.now,
    log: log.child({ component: "node" }),
    context: zmq.context,
    store: state.store,
  });
  try {
    await node.start();
  } catch (err: unknown) {
    await node.stop();
    state.close();
    throw err;
  }
  const control = new ControlServer(
    config.controlSocket,
    controlHandler(node),
    log.child({ component: "control" }),
  );
  try {
    await control.start();
  } catch (err: unknown) {
    await node.stop();
    state.close();
    throw err;
  }
  let watcher: Fail2banLogWatcher | undefined;
  if (config.watch !== null) {
    const watchLog = log.child({ component: "watch" });
    watcher = new Fail2banLogWatcher({
      path: config.watch.fail2banLog,
      positionFile: path.join(config.stateDir, "fail2ban-log.position.json"),
      jails: config.watch.jails,
      ownJail: "f2bp2p",
      onError: (err) => watchLog.warn("fail2ban log watch problem", { error: String(err) }),
      onBan: async (ip, jail) => {
        const result = node.reportLocal(ip, jail);
        watchLog.info("fail2ban ban reported", { ip, jail, status: result.status });
      },
    });
    await watcher.start();
  }
  return {
    node,
    async stop() {
      await watcher?.stop();
      await control.stop();
      await node.stop();
      state.close();
    },
  };
}

/** `f2bp2p run`: the node in the foreground until SIGTERM or SIGINT; SIGHUP reopens the bans log. */
export async function run(configOption: string | undefined, env: NodeJS.ProcessEnv): Promise<number> {
  const running = await startNode(configOption, env);
  return new Promise((resolve) => {
    const onHup = (): void => {
      running.node.reopenBansLog();
    };
    const onStop = (): void => {
      process.off("SIGTERM", onStop).off("SIGINT", onStop).off("SIGHUP", onHup);
      void running.stop().then(() => resolve(0));
    };
    process.on("SIGTERM", onStop).on("SIGINT", onStop).on("SIGHUP", onHup);
  });
}
