/**
 * Child process of the network benchmark: runs its share of the nodes (each with its own real sockets,
 * all on one ZeroMQ context) and answers the parent over IPC. Exits when told to, when the parent goes
 * away, or after 30 minutes.
 */
import fs from "node:fs";
import * as zmq from "zeromq";
import { loadNode } from "../src/demo/local-network.js";
import type { F2bNode } from "../src/node/node.js";
import { wallMs } from "./common.js";

type Command =
  | { op: "start"; nodes: { name: string; file: string }[] }
  | { op: "connected" }
  | { op: "report"; node: string; ip: string }
  | { op: "poll" }
  | { op: "links" }
  | { op: "scores"; ips: string[] }
  | { op: "memory" }
  | { op: "stopNodes"; names: string[] }
  | { op: "sync" }
  | { op: "banLines" }
  | { op: "rejected"; names: string[] }
  | { op: "stop" };

const gc = (globalThis as { gc?: () => void }).gc;
const nodes = new Map<string, F2bNode>();
let context: zmq.Context | undefined;
/** Ban lines as they are written: [node, ip, wall-clock ms]. Drained by each poll. */
let bans: [string, string, number][] = [];
/** Last `sent` of every link, so `links` answers with what each link sent since the previous call. */
const lastSent = new Map<string, number>();
/** Wall-clock ms at which each node's start() returned (the churn variant restarts nodes). */
const startedAt = new Map<string, number>();

function reply(message: Record<string, unknown>): void {
  process.send?.(message);
}

function memory(): Record<string, number> {
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
}

function openFiles(): { open: number; limit: number } {
  let open = -1;
  let limit = -1;
  try {
    open = fs.readdirSync("/proc/self/fd").length;
    const line = fs
      .readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    limit = Number(line?.split(/\s+/)[3] ?? -1);
  } catch {
    // Not Linux: leave the counts unknown.
  }
  return { open, limit };
}

async function start(list: { name: string; file: string }[]): Promise<void> {
  const before = memory();
  context ??= new zmq.Context({ maxSockets: 16_384 });
  const starting: Promise<void>[] = [];
  for (const { name, file } of list) {
    const node = loadNode(file, { context });
    node.on("ban", (event) => bans.push([name, event.ip, wallMs()]));
    nodes.set(name, node);
    starting.push(node.start().then(() => void startedAt.set(name, wallMs())));
  }
  await Promise.all(starting);
  reply({
    op: "started",
    before,
    after: memory(),
    startedAt: list.map(({ name }) => [name, startedAt.get(name)!]),
  });
}

function totals(): Record<string, number> {
  let handled = 0;
  let sent = 0;
  let queued = 0;
  let messages = 0;
  let rejected = 0;
  let noGain = 0;
  let dropped = 0;
  for (const node of nodes.values()) {
    const s = node.stats;
    const rejects = Object.values(s.rejected).reduce((a, b) => a + (b ?? 0), 0);
    handled += s.accepted - s.localReports + s.noGain + rejects;
    messages += s.messages;
    rejected += rejects;
    noGain += s.noGain;
    for (const f of node.friends) {
      sent += f.link.sent;
      queued += f.link.queued;
      dropped += f.link.dropped;
    }
  }
  return { handled, sent, queued, messages, rejected, noGain, dropped };
}

function linkDeltas(): [string, string, number][] {
  const out: [string, string, number][] = [];
  for (const [name, node] of nodes) {
    for (const f of node.friends) {
      const key = `${name}>${f.config.name}`;
      const delta = f.link.sent - (lastSent.get(key) ?? 0);
      lastSent.set(key, f.link.sent);
      if (delta > 0) out.push([name, f.config.name, delta]);
    }
  }
  return out;
}

async function handle(command: Command): Promise<void> {
  switch (command.op) {
    case "start":
      await start(command.nodes);
      return;
    case "connected": {
      let up = 0;
      let links = 0;
      for (const node of nodes.values()) {
        for (const f of node.friends) {
          links++;
          if (f.link.connected) up++;
        }
      }
      reply({ op: "connected", up, links, files: openFiles() });
      return;
    }
    case "report": {
      const node = nodes.get(command.node);
      if (node === undefined) throw new Error(`no node ${command.node} here`);
      const t0 = wallMs();
      const outcome = node.reportLocal(command.ip, "sshd");
      reply({ op: "reported", t0, status: outcome.status });
      return;
    }
    case "poll": {
      const drained = bans;
      bans = [];
      reply({ op: "poll", totals: totals(), bans: drained });
      return;
    }
    case "links":
      reply({ op: "links", deltas: linkDeltas() });
      return;
    case "scores": {
      const scores: Record<string, number[]> = {};
      for (const [name, node] of nodes) scores[name] = command.ips.map((ip) => node.ledger.score(ip));
      reply({ op: "scores", scores });
      return;
    }
    case "memory":
      reply({
        op: "memory",
        memory: memory(),
        nodes: nodes.size,
        files: openFiles(),
      });
      return;
    case "stopNodes": {
      // A clean stop of some nodes, their state kept, as `systemctl restart` would do.
      await Promise.all(command.names.map((name) => nodes.get(name)?.stop()));
      for (const name of command.names) nodes.delete(name);
      reply({ op: "stoppedNodes", at: wallMs() });
      return;
    }
    case "sync": {
      // [node, friend, link connected, sync state, caughtUpAt wall ms or 0, node started at]
      const links: [string, string, boolean, string, number, number][] = [];
      for (const [name, node] of nodes) {
        for (const f of node.friends) {
          const status = node.syncStatus(f.key);
          links.push([
            name,
            f.config.name,
            f.link.connected,
            status.state,
            status.caughtUpAt ?? 0,
            startedAt.get(name)!,
          ]);
        }
      }
      reply({ op: "sync", links });
      return;
    }
    case "rejected": {
      // Reject counts by reason code of some nodes, to explain a missing ban.
      const rejected: Record<string, unknown> = {};
      for (const name of command.names) {
        const node = nodes.get(name);
        if (node !== undefined) rejected[name] = node.stats.rejected;
      }
      reply({ op: "rejected", rejected });
      return;
    }
    case "banLines": {
      // What the user sees: the ban lines in each node's bans log, [node, ip, lines].
      const lines: [string, string, number][] = [];
      for (const [name, node] of nodes) {
        const file = node.config.bansLog;
        const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
        const perIp = new Map<string, number>();
        for (const line of text.split("\n")) {
          const ip = line.split(" ")[2];
          if (line.includes(" BAN ") && ip !== undefined) perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
        }
        for (const [ip, n] of perIp) lines.push([name, ip, n]);
      }
      reply({ op: "banLines", lines });
      return;
    }
    case "stop":
      await Promise.all([...nodes.values()].map((n) => n.stop()));
      reply({ op: "stopped" });
      process.exit(0);
  }
}

const deadline = setTimeout(() => process.exit(3), 30 * 60_000);
deadline.unref();
process.on("disconnect", () => process.exit(0));
process.on("message", (command: Command) => {
  handle(command).catch((err: unknown) =>
    reply({ op: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
reply({ op: "ready" });
