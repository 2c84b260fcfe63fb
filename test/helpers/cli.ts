import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { waitFor } from "./wait.js";

/** The real `f2bp2p` binary, spawned as fail2ban and a sysadmin would run it. */
export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bin/f2bp2p.js");
const exec = promisify(execFile);

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `f2bp2p ARGS` to its end, as a sysadmin would; never throws on a non-zero exit. */
export async function f2bp2p(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], {
      env: { ...process.env, F2BP2P_CONFIG: "", ...env },
      timeout: 30_000,
      // `bans --json` with thousands of addresses is more than execFile's default 1 MiB.
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err: unknown) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

export interface RunningCli {
  readonly child: ChildProcess;
  stderr(): string;
  readonly exited: Promise<number>;
}

export interface SpawnedNode extends RunningCli {
  /** Resolves once stderr matches `pattern` (rejects if the node exits first). */
  lines(pattern: RegExp): Promise<void>;
}

/** Starts `f2bp2p -c CONFIG run` without waiting; `exited` resolves with its exit code. */
export function spawnNode(config: string): SpawnedNode {
  const child = spawn(process.execPath, [BIN, "-c", config, "run"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
    for (const w of [...waiters]) {
      if (w.pattern.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const exited = new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? -1)));
  return {
    child,
    stderr: () => stderr,
    exited,
    lines: (pattern) =>
      pattern.test(stderr)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ pattern, resolve });
            void exited.then((code) => reject(new Error(`node exited with ${code} first: ${stderr}`)));
          }),
  };
}

/** Starts `f2bp2p run` and resolves once its control socket exists; the caller stops it. */
export async function runNode(config: string): Promise<RunningCli> {
  const node = spawnNode(config);
  const socket = path.join(path.dirname(config), "control.sock");
  await waitFor(() => fs.existsSync(socket) || node.child.exitCode !== null, 10_000, "control socket");
  assert.equal(node.child.exitCode, null, `node exited early: ${node.stderr()}`);
  return node;
}
