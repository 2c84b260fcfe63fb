import path from "node:path";
import * as zmq from "zeromq";
import { probeOwnClock } from "../clock/own-clock.js";
import { ConfigError } from "../config/errors.js";
import { findConfigPath, loadFriends, loadNodeConfig } from "../config/load.js";
import type { NodeConfig } from "../config/types.js";
import { Fail2banLogWatcher } from "../ingest/fail2ban-log-watcher.js";
import { loadIdentity } from "../keys/identity.js";
import { type AttachedMetrics, attachMetrics } from "../metrics/attach.js";
import { controlHandler } from "../node/control-handler.js";
import { ControlServer } from "../node/control-server.js";
import { F2bNode } from "../node/node.js";
import { reloadNode } from "../node/reload.js";
import { SpoolIntake } from "../spool/intake.js";
import { spoolVerdict } from "../spool/verdict.js";
import { openNodeState } from "../state/open.js";
import { folderOfAnotherUser } from "../util/folder-owner.js";
import type { Logger } from "../util/logger.js";
import { createLogger } from "../util/logger.js";
import { UsageError } from "./errors.js";
import { permissionFindings } from "./preflight.js";

/** A node with everything around it that `f2bp2p run` starts, and stops again in reverse order. */
export interface RunningNode {
  readonly node: F2bNode;
  readonly log: Logger;
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
  refuseRootInServiceFolders(config, configOption);
  const identity = loadIdentity(config.keysDir);
  const friends = loadFriends(config.friendsDir, {
    signingKey: identity.signingPublicKey,
    curveKey: identity.curvePublicKey,
  });
  const log = createLogger(config.logLevel, config.name);
  for (const warning of permissions.warnings) log.warn(warning);
  // The state dir's lock comes first: a second node stops here, before it touches any file.
  const state = openNodeState(config.stateDir, (file, from, to) =>
    log.info("upgrading the state store once; it can take a minute with a million reports", {
      file,
      fromSchema: from,
      toSchema: to,
    }),
  );
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
  // Not awaited: the answer (a child process or two) only adds a warning and a status field.
  void probeOwnClock().then((own) => node.clockSkew.setOwn(own));
  let watcher: Fail2banLogWatcher | undefined;
  // What `report` spooled while the node was down goes in before the control socket opens, so
  // spooled reports keep their order ahead of new ones.
  const intake = new SpoolIntake({
    dir: config.spoolDir,
    log: log.child({ component: "spool" }),
    now: Date.now,
    apply: (report) =>
      spoolVerdict(node.reportLocal(report.ip, report.jail, report.time), report, Date.now()),
  });
  const handler = controlHandler(node, { watch: () => watcher?.status() });
  const control = new ControlServer(
    config.controlSocket,
    {
      // `status` also shows the spool, which lives here beside the node, not in it.
      handle(request) {
        const answer = handler.handle(request);
        if (answer.ok && answer.status === "status")
          return { ...answer, node: { ...answer.node, spool: intake.status() } };
        return answer;
      },
    },
    log.child({ component: "control" }),
  );
  let metrics: AttachedMetrics | undefined;
  try {
    // Before the spool is taken in, so that what it brings is counted too.
    metrics = await attachMetrics(node, log.child({ component: "metrics" }));
    await intake.start();
    await control.start();
  } catch (err: unknown) {
    await metrics?.stop();
    await intake.stop();
    await node.stop();
    state.close();
    throw err;
  }
  if (config.watch !== null) {
    const watchLog = log.child({ component: "watch" });
    watcher = new Fail2banLogWatcher({
      path: config.watch.fail2banLog,
      positionFile: path.join(config.stateDir, "fail2ban-log.position.json"),
      jails: config.watch.jails,
      ownJail: "f2bp2p",
      onError: (err) => watchLog.warn("fail2ban log watch problem", { error: String(err) }),
      onUnrecognised: (message) =>
        watchLog.warn("fail2ban log not in a form log-watch reads", { problem: message }),
      onBan: async (ip, jail) => {
        const result = node.reportLocal(ip, jail);
        watchLog.info("fail2ban ban reported", { ip, jail, status: result.status });
      },
    });
    await watcher.start();
  }
  return {
    node,
    log: log.child({ component: "reload" }),
    async stop() {
      await watcher?.stop();
      await metrics?.stop();
      await control.stop();
      await intake.stop();
      await node.stop();
      state.close();
    },
  };
}

/**
 * Root running the node by mistake would leave state, bans log or socket files owned by root in the
 * service user's folders, and the service would then fail on EACCES: refuse, and say what to run.
 */
function refuseRootInServiceFolders(config: NodeConfig, configOption: string | undefined): void {
  const other = folderOfAnotherUser([
    config.stateDir,
    path.dirname(config.bansLog),
    path.dirname(config.controlSocket),
  ]);
  if (other === null) return;
  const command = `f2bp2p${configOption === undefined ? "" : ` -c ${configOption}`} run`;
  throw new UsageError(
    `${other.folder} belongs to ${other.user}; run as root, the node would leave files there that ` +
      `${other.user} cannot read. Start the service instead (systemctl start f2bp2p), or run the node ` +
      `as that user: runuser -u ${other.user} -- ${command}`,
  );
}

/**
 * `f2bp2p run`: the node in the foreground until SIGTERM or SIGINT. SIGHUP (systemctl reload)
 * re-reads friends.d and reopens the bans log, or keeps everything when the config has problems.
 */
export async function run(configOption: string | undefined, env: NodeJS.ProcessEnv): Promise<number> {
  const running = await startNode(configOption, env);
  return new Promise((resolve) => {
    const onHup = (): void => void reloadNode(running.node, running.log);
    const onStop = (): void => {
      process.off("SIGTERM", onStop).off("SIGINT", onStop).off("SIGHUP", onHup);
      void running.stop().then(() => resolve(0));
    };
    process.on("SIGTERM", onStop).on("SIGINT", onStop).on("SIGHUP", onHup);
  });
}
