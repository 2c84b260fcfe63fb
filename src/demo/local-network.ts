import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import * as zmq from "zeromq";
import { loadFriends, loadNodeConfig } from "../config/load.js";
import { friendBlock, generateIdentity, loadIdentity, writeIdentity } from "../keys/identity.js";
import { F2bNode } from "../node/node.js";
import { type Logger, silentLogger } from "../util/logger.js";

/** A friend network on loopback: node names, and friendships with the trust each side gives the other. */
export interface NetworkSpec {
  readonly nodes: readonly NodeSpec[];
  /** [a, b, trust a gives b, trust b gives a]; trusts default to 80. */
  readonly links: readonly (readonly [string, string, number?, number?])[];
}

export interface NodeSpec {
  readonly name: string;
  readonly threshold?: number;
  readonly maxHops?: number;
  readonly ignore?: readonly string[];
  readonly watch?: { readonly fail2banLog: string; readonly jails: readonly string[] };
  readonly logLevel?: "error" | "warn" | "info" | "debug";
  /** `sync_interval` (e.g. "2s"); the node's default when not given. */
  readonly syncInterval?: string;
  /** `share_never_ban`: ranges this node asks its friends never to ban because of it. */
  readonly shareNeverBan?: readonly string[];
}

export interface NetworkFiles {
  readonly dir: string;
  /** Config file of each node, by name. */
  readonly configs: ReadonlyMap<string, string>;
  readonly ports: ReadonlyMap<string, number>;
}

/** Free TCP ports on 127.0.0.1, found by letting the kernel pick and releasing them again. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/**
 * Writes everything each node needs, exactly as an admin would: keys made by keygen's code,
 * f2bp2p.yaml, and friends.d/ files made from each friend's printed block.
 */
export async function writeNetworkFiles(spec: NetworkSpec, dir?: string): Promise<NetworkFiles> {
  const root = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-net-"));
  const ports = await freePorts(spec.nodes.length);
  const portOf = new Map(spec.nodes.map((n, i) => [n.name, ports[i]!]));
  const blocks = new Map<string, (trust: number) => string>();
  const configs = new Map<string, string>();
  for (const node of spec.nodes) {
    const home = path.join(root, node.name);
    fs.mkdirSync(path.join(home, "friends.d"), { recursive: true });
    const endpoint = `tcp://127.0.0.1:${portOf.get(node.name)}`;
    const identity = generateIdentity();
    writeIdentity(path.join(home, "keys"), identity, friendBlock(node.name, endpoint, identity), false);
    blocks.set(node.name, (trust) => friendBlock(node.name, endpoint, identity, trust));
    const config: Record<string, unknown> = {
      name: node.name,
      listen: endpoint,
      threshold: node.threshold ?? 80,
      max_hops: node.maxHops ?? 6,
      bans_log: "bans.log",
      auth_log: "auth.log",
      control_socket: "control.sock",
      state_dir: "state",
      ignore: node.ignore ?? [],
      log_level: node.logLevel ?? "warn",
    };
    if (node.syncInterval !== undefined) config.sync_interval = node.syncInterval;
    if (node.shareNeverBan !== undefined) config.share_never_ban = node.shareNeverBan;
    if (node.watch) config.watch = { fail2ban_log: node.watch.fail2banLog, jails: node.watch.jails };
    const file = path.join(home, "f2bp2p.yaml");
    fs.writeFileSync(file, YAML.stringify(config));
    configs.set(node.name, file);
  }
  for (const [a, b, trustAB = 80, trustBA = 80] of spec.links) {
    fs.writeFileSync(path.join(root, a, "friends.d", `${b}.yaml`), blocks.get(b)!(trustAB));
    fs.writeFileSync(path.join(root, b, "friends.d", `${a}.yaml`), blocks.get(a)!(trustBA));
  }
  return { dir: root, configs, ports: portOf };
}

/** Resolves once `port` can be bound on 127.0.0.1 again (checked every 10 ms, for at most 10 s). */
async function portReleased(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return;
    if (Date.now() > deadline)
      throw new Error(`port ${port} on 127.0.0.1 still in use 10 s after the node stopped`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Loads one node from its files, the way `f2bp2p run` does, without the control socket. */
export function loadNode(
  configFile: string,
  components: {
    context: zmq.Context;
    log?: Logger;
    now?: () => number;
    linkQueue?: number;
    linkReconnectMs?: number;
  },
): F2bNode {
  const config = loadNodeConfig(configFile);
  const identity = loadIdentity(config.keysDir);
  const friends = loadFriends(config.friendsDir, {
    signingKey: identity.signingPublicKey,
    curveKey: identity.curvePublicKey,
  });
  return new F2bNode(config, friends, identity, {
    context: components.context,
    log: components.log ?? silentLogger(),
    now: components.now ?? Date.now,
    linkQueue: components.linkQueue,
    linkReconnectMs: components.linkReconnectMs,
  });
}

/** All nodes of a network in this process, each with its own real sockets on loopback. */
export class LocalNetwork {
  readonly files: NetworkFiles;
  readonly nodes = new Map<string, F2bNode>();
  readonly context: zmq.Context;

  private constructor(files: NetworkFiles, context: zmq.Context) {
    this.files = files;
    this.context = context;
  }

  static async start(spec: NetworkSpec, options: { dir?: string; log?: Logger } = {}): Promise<LocalNetwork> {
    return LocalNetwork.startFrom(await writeNetworkFiles(spec, options.dir), options);
  }

  /** Starts the nodes of files written (and perhaps edited since) by writeNetworkFiles. */
  static async startFrom(files: NetworkFiles, options: { log?: Logger } = {}): Promise<LocalNetwork> {
    const network = new LocalNetwork(files, new zmq.Context());
    for (const [name, file] of network.files.configs) {
      const node = loadNode(file, { context: network.context, ...(options.log ? { log: options.log } : {}) });
      network.nodes.set(name, node);
    }
    await Promise.all([...network.nodes.values()].map((n) => n.start()));
    return network;
  }

  node(name: string): F2bNode {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`no node named ${name}`);
    return node;
  }

  /** Waits until every link has completed its handshake, so a first report is not queued behind it. */
  async connected(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const all = (): boolean =>
      [...this.nodes.values()].every((n) => n.friends.every((f) => f.link.connected));
    while (!all()) {
      if (Date.now() > deadline) throw new Error("friend links did not connect in time");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Waits until no node has accepted anything for `quietMs`: the network has settled. */
  async settled(quietMs = 200, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const activity = (): number => [...this.nodes.values()].reduce((n, node) => n + node.stats.messages, 0);
    let last = activity();
    let quietSince = Date.now();
    while (Date.now() - quietSince < quietMs) {
      if (Date.now() > deadline) throw new Error("network did not settle in time");
      await new Promise((resolve) => setTimeout(resolve, 20));
      const now = activity();
      if (now !== last) {
        last = now;
        quietSince = Date.now();
      }
    }
  }

  /** Stops one node and starts it again from its files, as a restart of `f2bp2p run` would. */
  async restart(name: string, beforeStart?: () => Promise<void>): Promise<F2bNode> {
    const stopped = this.node(name);
    await stopped.stop();
    // libzmq closes the listening socket in its I/O thread, after close() returned: starting on the
    // same port before that fails with "address already in use".
    await portReleased(Number(stopped.config.listen.slice(stopped.config.listen.lastIndexOf(":") + 1)));
    await beforeStart?.();
    const node = loadNode(this.files.configs.get(name)!, { context: this.context });
    this.nodes.set(name, node);
    await node.start();
    return node;
  }

  bansLog(name: string): string {
    const file = this.node(name).config.bansLog;
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  }

  async stop(options: { removeFiles?: boolean } = {}): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.stop()));
    if (options.removeFiles ?? true) fs.rmSync(this.files.dir, { recursive: true, force: true });
  }
}
