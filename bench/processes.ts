/** Real node processes (`node bin/f2bp2p.js -c CONFIG run`) for the benchmarks, always stopped again. */
import { type ChildProcess, spawn } from "node:child_process";
import { askNode } from "../src/cli/control-client.js";
import { CLI, sleep, stopChild, trackChild } from "./common.js";

export interface NodeProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly controlSocket: string;
  /** Last few KiB of the node's stderr (its operational log at level warn), for error messages. */
  stderr(): string;
}

export function spawnNode(name: string, configFile: string, controlSocket: string): NodeProcess {
  const child = trackChild(
    spawn(process.execPath, [CLI, "-c", configFile, "run"], { stdio: ["ignore", "ignore", "pipe"] }),
  );
  let tail = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    tail = (tail + chunk).slice(-4096);
  });
  return { name, child, controlSocket, stderr: () => tail };
}

interface StatusFriend {
  readonly connected: boolean;
}

/** Waits until the node answers on its control socket and every friend link has done its handshake. */
export async function waitReady(node: NodeProcess, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = "no answer yet";
  while (performance.now() < deadline) {
    if (node.child.exitCode !== null) {
      throw new Error(`node ${node.name} exited with code ${node.child.exitCode}: ${node.stderr()}`);
    }
    try {
      const answer = await askNode(node.controlSocket, { op: "status" }, 1000);
      if (answer.ok && answer.status === "status") {
        const friends = (answer.node.friends ?? []) as StatusFriend[];
        if (friends.every((f) => f.connected)) return;
        last = `${friends.filter((f) => f.connected).length}/${friends.length} friends connected`;
      }
    } catch (err: unknown) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(25);
  }
  throw new Error(`node ${node.name} not ready in ${timeoutMs} ms (${last}); stderr: ${node.stderr()}`);
}

export async function stopNodes(nodes: readonly NodeProcess[]): Promise<void> {
  await Promise.all(nodes.map((n) => stopChild(n.child)));
}
