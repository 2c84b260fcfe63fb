import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { askNode } from "../../src/cli/control-client.js";
import { BIN, f2bp2p } from "./cli.js";
import { waitFor } from "./wait.js";

export { BIN, type CliRun, f2bp2p } from "./cli.js";

export interface RunningProcess {
  readonly child: ChildProcess;
  readonly config: string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once("exit", killAll);

/** Kills every node this process spawned and has not seen end: for `after` hooks before removing files. */
export function killAll(): void {
  for (const child of children) child.kill("SIGKILL");
}

/** Spawns `f2bp2p -c CONFIG run` and returns at once (see waitControl). */
export function spawnRun(config: string, options: { uid?: number; gid?: number } = {}): RunningProcess {
  const child = spawn(process.execPath, [BIN, "-c", config, "run"], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, F2BP2P_CONFIG: "" },
    ...options,
  });
  children.add(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? -1);
    }),
  );
  return {
    child,
    config,
    stderr: () => stderr,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

/** Starts `f2bp2p run` and resolves once the node answers `status` on its control socket. */
export async function runNode(config: string): Promise<RunningProcess> {
  const node = spawnRun(config);
  await waitFor(
    async () => {
      if (node.child.exitCode !== null) return true;
      return (await f2bp2p(["-c", config, "status"])).code === 0;
    },
    30_000,
    `node ${config} to answer status`,
  );
  assert.equal(node.child.exitCode, null, `node exited early: ${node.stderr()}`);
  return node;
}

export function tempDir(prefix = "f2bp2p-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The lines of a file that are `BAN` lines, by IP (how often each appears). */
export function banCounts(file: string): Map<string, number> {
  const counts = new Map<string, number>();
  let text = "";
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return counts;
  }
  for (const line of text.split("\n")) {
    const m = / BAN (\S+) score=/.exec(line);
    if (m) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  }
  return counts;
}

/** Waits until the node behind `socket` reports every friend link connected. */
export async function friendsConnected(socket: string): Promise<void> {
  await waitFor(
    async () => {
      const s = await askNode(socket, { op: "status" });
      return (
        s.ok &&
        s.status === "status" &&
        (s.node.friends as { connected: boolean }[]).every((f) => f.connected)
      );
    },
    20_000,
    `friends of ${socket} connected`,
  );
}
