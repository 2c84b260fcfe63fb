/**
 * Pieces of the end-to-end tests: "hosts" on loopback, each with a real `f2bp2p run` child process
 * and, where needed, a real fail2ban-server (test/helpers/fail2ban.ts).
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestContext } from "node:test";
import { promisify } from "node:util";
import YAML from "yaml";
import * as zmq from "zeromq";
import { askNode } from "../../src/cli/control-client.js";
import { type NetworkSpec, writeNetworkFiles } from "../../src/demo/local-network.js";
import { type Identity, loadIdentity } from "../../src/keys/identity.js";
import { type Fail2ban, REPO_ROOT, repoFail2banFile, startFail2ban } from "../helpers/fail2ban.js";
import { waitFor } from "../helpers/wait.js";

const exec = promisify(execFile);

/** The real `f2bp2p` binary, as fail2ban and a sysadmin run it. */
export const BIN = path.join(REPO_ROOT, "bin", "f2bp2p.js");

/** Things to undo at the end of a test, undone in reverse order, each even if another one fails. */
export class Teardown {
  readonly #steps: (() => unknown)[] = [];

  add(step: () => unknown): void {
    this.#steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err: unknown) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, "teardown failed");
  }
}

/**
 * Everything one test starts: a temp root (one folder per host below it), the nodes and fail2ban
 * servers, all stopped and removed when the test ends, whether it passed, failed or timed out.
 */
export class Scene {
  readonly teardown = new Teardown();
  readonly root: string;
  readonly nodes = new Map<string, RunningNode>();
  readonly fail2bans = new Map<string, Fail2ban>();

  constructor(t: TestContext) {
    t.after(() => this.teardown.run());
    // Short on purpose: unix sockets (control.sock, f2b.sock) live below it.
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-e2e-"));
    const root = this.root;
    this.teardown.add(() => fs.rmSync(root, { recursive: true, force: true }));
  }

  node(name: string): RunningNode {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`no node ${name}`);
    return node;
  }

  /** Runs the test body; if it throws, attaches every node's log and fail2ban's output first. */
  async run(t: TestContext, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err: unknown) {
      for (const node of this.nodes.values())
        t.diagnostic(`--- node ${node.name} stderr:\n${node.stderr()}\n--- its bans.log:\n${node.bans()}`);
      for (const [host, fail2ban] of this.fail2bans) t.diagnostic(`--- host ${host}: ${fail2ban.describe()}`);
      throw err;
    }
  }
}

const liveNodes = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveNodes) child.kill("SIGKILL");
});

/** One `f2bp2p run` child process. */
export interface RunningNode {
  readonly name: string;
  readonly config: string;
  /** Folder of the node's files: f2bp2p.yaml, keys/, friends.d/, bans.log, control.sock, state/. */
  readonly home: string;
  readonly bansLog: string;
  readonly controlSocket: string;
  /** The `f2bp2p run` process (for kill -9, SIGSTOP/SIGCONT). */
  readonly child: ChildProcess;
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>;
  /** Everything the node logged so far (its log goes to stderr). */
  stderr(): string;
  /** The bans log as it is now ("" before the first line). */
  bans(): string;
  status(): Promise<NodeStatus>;
  stop(): Promise<void>;
}

export interface NodeStatus {
  readonly id: string;
  readonly reports: number;
  readonly ips: number;
  readonly stats: { readonly localReports: number; readonly bans: number; readonly accepted: number };
  readonly friends: readonly { readonly name: string; readonly connected: boolean }[];
}

/**
 * Starts `node bin/f2bp2p.js -c CONFIG run` and resolves once its control socket answers; `as`: the
 * user and group it runs as (the packaged service's own user, not root), whose files must be theirs.
 */
export async function runNode(
  name: string,
  config: string,
  teardown: Teardown,
  as?: { readonly uid: number; readonly gid: number },
): Promise<RunningNode> {
  const home = path.dirname(config);
  const controlSocket = path.join(home, "control.sock");
  const bansLog = path.join(home, "bans.log");
  const child = spawn(process.execPath, [BIN, "-c", config, "run"], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, F2BP2P_CONFIG: "" },
    ...as,
  });
  liveNodes.add(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", (err) => {
      stderr += `cannot run f2bp2p: ${err.message}\n`;
      resolve();
    });
  }).then(() => {
    done = true;
    liveNodes.delete(child);
  });
  const stop = async (): Promise<void> => {
    if (done) return;
    child.kill("SIGTERM");
    const stopped = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(resolve, 10_000, false).unref()),
    ]);
    if (!stopped) child.kill("SIGKILL");
    await exited;
  };
  teardown.add(stop);
  const status = async (): Promise<NodeStatus> => {
    const answer = await askNode(controlSocket, { op: "status" });
    if (!answer.ok || answer.status !== "status")
      throw new Error(`unexpected status answer ${JSON.stringify(answer)}`);
    return answer.node as unknown as NodeStatus;
  };
  await waitFor(
    async () =>
      done ||
      (await status().then(
        () => true,
        () => false,
      )),
    15_000,
    `control socket of node ${name}`,
  );
  assert.equal(done, false, `node ${name} exited at start:\n${stderr}`);
  return {
    name,
    config,
    home,
    bansLog,
    controlSocket,
    child,
    exited,
    stderr: () => stderr,
    bans: () => (fs.existsSync(bansLog) ? fs.readFileSync(bansLog, "utf8") : ""),
    status,
    stop,
  };
}

/** Writes a friend network into the scene's root (one folder per node, the "host") and runs every node as `f2bp2p run`. */
export async function runNetwork(scene: Scene, spec: NetworkSpec): Promise<Map<string, RunningNode>> {
  const files = await writeNetworkFiles(spec, scene.root);
  const nodes = scene.nodes;
  await Promise.all(
    [...files.configs].map(async ([name, config]) => {
      nodes.set(name, await runNode(name, config, scene.teardown));
    }),
  );
  // Every friend link has done its CURVE handshake: the first report does not wait behind it.
  await waitFor(
    async () => {
      const all = await Promise.all([...nodes.values()].map((n) => n.status()));
      return all.every((s) => s.friends.every((f) => f.connected));
    },
    15_000,
    "every friend link connected",
  );
  return nodes;
}

/** A running node's own keys (its keys/ folder). */
export function keysOf(node: RunningNode): Identity {
  return loadIdentity(path.join(node.home, "keys"));
}

/**
 * Sends `messages` to `to`'s listen endpoint over a real CURVE connection made with `keys` (a
 * friend's, or a test's own), as that friend would; resolves once they are handed to libzmq (its
 * linger delivers them after the socket closes).
 */
export async function pushAs(
  keys: Pick<Identity, "curvePublicKey" | "curveSecretKey">,
  to: RunningNode,
  messages: readonly Buffer[][],
): Promise<void> {
  const { listen } = YAML.parse(fs.readFileSync(to.config, "utf8")) as { listen: string };
  const push = new zmq.Push({
    curveServerKey: keysOf(to).curvePublicKey,
    curvePublicKey: keys.curvePublicKey,
    curveSecretKey: keys.curveSecretKey,
    linger: 2000,
  });
  try {
    push.connect(listen);
    for (const frames of messages) await push.send(frames);
  } finally {
    push.close();
  }
}

/** `f2bp2p -c CONFIG report IP [--jail JAIL]` with the real binary; rejects unless it exits 0. */
export async function reportWithCli(node: RunningNode, ip: string, jail?: string): Promise<string> {
  const args = [BIN, "-c", node.config, "report", ip, ...(jail ? ["--jail", jail] : [])];
  const { stdout } = await exec(process.execPath, args, { timeout: 20_000 });
  return stdout;
}

/** True once the bans log has a line for `ip`. */
export function hasBanLine(node: RunningNode, ip: string): boolean {
  return node.bans().includes(` BAN ${ip} `);
}

/** A filter for the fake sshd log: `2026-11-21T10:00:00 host sshd[123]: Failed password for root from IP port 22 ssh2`. */
export const FAKE_SSHD_FILTER = `[Definition]
# The timestamp is cut out of the line before matching: the rest starts with one space.
failregex = ^ \\S+ sshd\\[\\d+\\]: Failed password for (?:invalid user )?\\S+ from <ADDR> port \\d+ ssh2$
ignoreregex =
# No zone in the line: the jail sets logtimezone = UTC.
datepattern = {^LN-BEG}%%Y-%%m-%%dT%%H:%%M:%%S
`;

/** One failed login as the fake sshd logs it, dated now (UTC, no zone in the line). */
export function failedLogin(ip: string): string {
  return `${new Date().toISOString().slice(0, 19)} host sshd[123]: Failed password for root from ${ip} port 22 ssh2\n`;
}

/** A harmless ban action: records `+IP` / `-IP` in its target file instead of touching a firewall. */
export const DUMMY_ACTION = `[Definition]
actionstart =
actionstop =
actioncheck =
actionban = printf '+%%s\\n' '<ip>' >> '<target>'
actionunban = printf -- '-%%s\\n' '<ip>' >> '<target>'

[Init]
target = /dev/null
`;

/**
 * Host A's fail2ban: a jail `sshd` on a fake auth log (maxretry 3) that bans with the dummy action
 * and, when `withF2bp2pAction`, also runs the repository's real action.d/f2bp2p.conf.
 */
export async function startSshdHost(
  scene: Scene,
  node: RunningNode,
  options: { withF2bp2pAction: boolean },
): Promise<{ fail2ban: Fail2ban; authLog: string; dummyTarget: string }> {
  const dir = node.home;
  const authLog = path.join(dir, "auth.log");
  fs.writeFileSync(authLog, "");
  const dummyTarget = path.join(dir, "dummy-sshd.bans");
  // fail2ban runs actions with a minimal PATH and the action quotes <f2bp2p_bin> as one word:
  // a wrapper with absolute paths to this node binary and to bin/f2bp2p.js.
  const wrapper = path.join(dir, "f2bp2p");
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`, { mode: 0o755 });
  const actions = [`dummy[target="${dummyTarget}"]`];
  if (options.withF2bp2pAction)
    actions.push(`f2bp2p[f2bp2p_bin="${wrapper}", f2bp2p_config="${node.config}"]`);
  const fail2ban = await startFail2ban({
    dir: path.join(dir, "f2b"),
    jails: {
      sshd: {
        enabled: true,
        filter: "fake-sshd",
        logpath: authLog,
        logtimezone: "UTC",
        backend: "auto",
        maxretry: 3,
        findtime: 600,
        bantime: 3600,
        action: actions.join("\n"),
      },
    },
    filters: { "fake-sshd": FAKE_SSHD_FILTER },
    actions: { dummy: DUMMY_ACTION, f2bp2p: repoFail2banFile("action.d/f2bp2p.conf") },
  });
  scene.teardown.add(() => fail2ban.stop());
  scene.fail2bans.set(node.name, fail2ban);
  return { fail2ban, authLog, dummyTarget };
}

/**
 * Host B's fail2ban: the repository's filter.d/f2bp2p.conf and jail.d/f2bp2p.conf as shipped, with
 * a jail.d/f2bp2p.local pointing logpath at the node's bans log (as docs/fail2ban.md says), and a
 * [DEFAULT] banaction that is the dummy action instead of iptables.
 */
export async function startF2bp2pJailHost(
  scene: Scene,
  node: RunningNode,
): Promise<{ fail2ban: Fail2ban; dummyTarget: string }> {
  const dir = node.home;
  // fail2ban does not start a jail whose log is missing; the node creates it when it starts.
  assert.ok(fs.existsSync(node.bansLog), `node ${node.name} has no bans log at ${node.bansLog}`);
  const dummyTarget = path.join(dir, "dummy-f2bp2p.bans");
  const fail2ban = await startFail2ban({
    dir: path.join(dir, "f2b"),
    jails: {
      DEFAULT: {
        banaction: "dummy",
        action: `%(banaction)s[target="${path.join(dir, "dummy-%(__name__)s.bans")}"]`,
      },
    },
    filters: { f2bp2p: repoFail2banFile("filter.d/f2bp2p.conf") },
    actions: { dummy: DUMMY_ACTION },
    files: {
      "jail.d/f2bp2p.conf": repoFail2banFile("jail.d/f2bp2p.conf"),
      "jail.d/f2bp2p.local": `[f2bp2p]\nlogpath = ${node.bansLog}\n`,
    },
  });
  scene.teardown.add(() => fail2ban.stop());
  scene.fail2bans.set(node.name, fail2ban);
  return { fail2ban, dummyTarget };
}

/** fail2ban logged no ERROR or CRITICAL line (a failed action, a jail that did not start, ...). */
export function assertNoFail2banErrors(fail2ban: Fail2ban): void {
  const log = fs.readFileSync(fail2ban.logFile, "utf8");
  assert.doesNotMatch(log, /\]: (?:ERROR|CRITICAL) /, log);
}

/** Reads one counter of `fail2ban-client status JAIL`, e.g. "Total failed". */
export function statusCount(status: string, label: string): number {
  const match = new RegExp(`${label}:\\s*(\\d+)`).exec(status);
  assert.ok(match, `no "${label}" in:\n${status}`);
  return Number(match[1]);
}

/** The "Banned IP list" of `fail2ban-client status JAIL`. */
export function statusBannedList(status: string): string[] {
  const match = /Banned IP list:[ \t]*(.*)$/m.exec(status);
  assert.ok(match, `no "Banned IP list" in:\n${status}`);
  return match[1]!.trim().split(/\s+/).filter(Boolean);
}

export interface Stage {
  readonly name: string;
  readonly reached: () => boolean | Promise<boolean>;
}

/**
 * Polls every stage at once from `t0` (performance.now()) and resolves with the time each was first
 * seen, in ms since t0. A stage that is polled through fail2ban-client is seen up to one call late.
 */
export async function timeStages(
  t0: number,
  stages: readonly Stage[],
  timeoutMs = 30_000,
): Promise<number[]> {
  return Promise.all(
    stages.map(async (stage) => {
      await waitFor(stage.reached, timeoutMs, stage.name);
      return performance.now() - t0;
    }),
  );
}

/** Prints the stage times as a small table (test diagnostics). Not an assertion. */
export function printTimings(
  t: TestContext,
  title: string,
  stages: readonly Stage[],
  times: readonly number[],
): void {
  const width = Math.max(...stages.map((s) => s.name.length));
  const rows = stages.map((stage, i) => {
    const step = times[i]! - (i === 0 ? 0 : times[i - 1]!);
    return `${stage.name.padEnd(width)} | ${step.toFixed(0).padStart(6)} ms | ${times[i]!.toFixed(0).padStart(6)} ms`;
  });
  const lines = [
    `${title}: ms since the failed-login line was written; step = since the row above`,
    `(polled: files every 10 ms, fail2ban-client ~50 ms per call, so a step can be slightly negative)`,
    `${"stage".padEnd(width)} | ${"step".padStart(9)} | ${"total".padStart(9)}`,
    ...rows,
  ];
  for (const line of lines) t.diagnostic(line);
}
