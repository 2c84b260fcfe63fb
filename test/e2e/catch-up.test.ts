/**
 * Catch-up sync between friends (docs/protocol.md section 13), with real `f2bp2p run` processes,
 * the real CLI and real ZeroMQ sockets on loopback: whatever was down, restarting, killed, wiped or
 * cut off, every friend ends with every live report, each ban line written once.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import YAML from "yaml";
import { loadIdentity } from "../../src/keys/identity.js";
import { signReport } from "../../src/protocol/report.js";
import { spoolReport } from "../../src/spool/write.js";
import { Ledger } from "../../src/state/ledger.js";
import { SqliteStore } from "../../src/state/sqlite-store.js";
import { OWN_TRUST, VIA_SELF } from "../../src/trust/rules.js";
import { waitFor } from "../helpers/wait.js";
import { BIN, type RunningNode, runNetwork, runNode, Scene } from "./hosts.js";

const exec = promisify(execFile);

/** `count` attackers from 2001:db8::/32, distinct per `block` (never this host's own address). */
function attackers(block: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `2001:db8:${block.toString(16)}::${(i + 1).toString(16)}`);
}

/** Reports through the real CLI, a few at a time, as fail2ban's action would. */
async function reportAll(node: RunningNode, ips: readonly string[]): Promise<void> {
  const queue = [...ips];
  const worker = async (): Promise<void> => {
    for (let ip = queue.shift(); ip !== undefined; ip = queue.shift()) {
      const { stdout } = await exec(
        process.execPath,
        [BIN, "-c", node.config, "report", ip, "--jail", "sshd"],
        {
          env: { ...process.env, F2BP2P_CONFIG: "" },
          timeout: 60_000,
        },
      );
      assert.match(stdout, /: accepted, score 100, banned here\n$/, stdout);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

/** Queues reports in a stopped node's spool, as `report` does when the node gives no answer. */
function spoolAll(node: RunningNode, ips: readonly string[], time = Date.now()): void {
  for (const ip of ips) {
    const written = spoolReport(path.join(node.home, "state", "spool"), { ip, jail: "sshd", time });
    assert.ok(written.ok, written.ok ? "" : written.reason);
  }
}

/**
 * Puts reports into a stopped node's store as its own (signed with its key, applied by the ledger
 * as `report` does), all in one transaction: a node that holds thousands, made in a moment.
 */
function holdOwnReports(node: RunningNode, ips: readonly string[]): void {
  const identity = loadIdentity(path.join(node.home, "keys"));
  const store = new SqliteStore(path.join(node.home, "state"));
  try {
    const ledger = new Ledger(store, {
      lifetimeMs: 86_400_000,
      threshold: 80,
      trustOfVia: () => 0,
      maxReportsPerFriend: 250_000,
    });
    const now = Date.now();
    store.transaction(() => {
      for (const ip of ips) {
        const signed = signReport(
          { ip, time: now, origin: identity.signingPublicKey, jail: "sshd" },
          identity.signer,
        );
        assert.equal(
          ledger.apply({ signed, trust: OWN_TRUST, via: VIA_SELF, path: [], at: now }).kind,
          "accepted",
        );
      }
    });
  } finally {
    store.close();
  }
}

/** BAN lines of the node's bans log, by IP: how often each appears. */
function banLines(node: RunningNode): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of node.bans().split("\n")) {
    const ip = / BAN (\S+) /.exec(line)?.[1];
    if (ip !== undefined) counts.set(ip, (counts.get(ip) ?? 0) + 1);
  }
  return counts;
}

async function awaitBanLines(node: RunningNode, ips: readonly string[], timeoutMs = 90_000): Promise<void> {
  await waitFor(
    () => {
      const lines = banLines(node);
      return ips.every((ip) => lines.has(ip));
    },
    timeoutMs,
    `${ips.length} ban lines at ${node.name}`,
  );
}

/** Every IP has exactly one BAN line, and no other IP has one. */
function assertBannedOnce(node: RunningNode, ips: readonly string[]): void {
  const lines = banLines(node);
  assert.deepEqual([...lines.keys()].sort(), [...ips].sort(), `bans log of ${node.name}`);
  const twice = [...lines].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], `ban lines written more than once at ${node.name}`);
}

/** IPs the node holds live reports for, by `f2bp2p bans --json`. */
async function heldIps(node: RunningNode): Promise<Map<string, number>> {
  const { stdout } = await exec(process.execPath, [BIN, "-c", node.config, "bans", "--json"], {
    env: { ...process.env, F2BP2P_CONFIG: "" },
    maxBuffer: 64 * 1024 * 1024,
  });
  const parsed = JSON.parse(stdout) as { ips: { ip: string; score: number }[] };
  return new Map(parsed.ips.map((e) => [e.ip, e.score]));
}

async function restart(scene: Scene, node: RunningNode): Promise<RunningNode> {
  const again = await runNode(node.name, node.config, scene.teardown);
  scene.nodes.set(node.name, again);
  return again;
}

/** Runs the node's `f2bp2p run` again and kills it (-9) as soon as `done` says so of its log. */
async function killWhen(node: RunningNode, done: (log: string) => boolean): Promise<void> {
  const child = spawn(process.execPath, [BIN, "-c", node.config, "run"], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, F2BP2P_CONFIG: "" },
  });
  let log = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.stderr!.on("data", (d: Buffer) => {
    log += d.toString();
    if (done(log)) child.kill("SIGKILL");
  });
  await exited;
  assert.ok(done(log), `the node ended before it was to be killed:\n${log}`);
}

async function kill9(node: RunningNode): Promise<void> {
  node.child.kill("SIGKILL");
  await node.exited;
}

/** Rejections the node counted, by code (status). */
async function rejected(node: RunningNode): Promise<Record<string, number>> {
  const status = (await node.status()) as unknown as { stats: { rejected: Record<string, number> } };
  return status.stats.rejected;
}

describe("catch-up sync: nothing is lost between friends", () => {
  it("sender restarted (kill -9) while its friend is down: the friend gets all 100 when it starts", {
    timeout: 180_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, {
        nodes: [{ name: "a" }, { name: "b", logLevel: "info" }],
        links: [["a", "b"]],
      });
      let a = scene.node("a");
      let b = scene.node("b");
      await b.stop();
      const ips = attackers(0xa1, 100);
      await reportAll(a, ips);
      await kill9(a);
      a = await restart(scene, a);
      b = await restart(scene, b);
      await awaitBanLines(b, ips);
      assertBannedOnce(b, ips);
      assertBannedOnce(a, ips);
      // The log line follows the commit that wrote the bans, and reaches us through a pipe: await it.
      await waitFor(
        () => /caught up with friend .*friend=a.* reports=100/.test(b.stderr()),
        20_000,
        "b to log that it caught up with a",
      );
    });
  });

  it("friend killed in the middle of a catch-up: restarted, it ends with all 2,000 once", {
    timeout: 240_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, {
        nodes: [{ name: "a" }, { name: "b", logLevel: "info" }],
        links: [["a", "b"]],
      });
      let a = scene.node("a");
      let b = scene.node("b");
      await b.stop();
      await a.stop();
      const ips = attackers(0xa2, 2000);
      holdOwnReports(a, ips);
      a = await restart(scene, a);
      assert.equal((await heldIps(a)).size, 2000);
      // b is killed the moment it has logged its 300th ban: in the middle of the catch-up.
      await killWhen(b, (log) => (log.match(/ ban ip=/g)?.length ?? 0) >= 300);
      const partWay = banLines(b).size;
      t.diagnostic(`b was killed with ${partWay} of 2000 ban lines`);
      assert.ok(partWay < 2000, `b was killed after all ${partWay} lines: the test proves nothing`);
      b = await restart(scene, b);
      await awaitBanLines(b, ips);
      assertBannedOnce(b, ips);
    });
  });

  it("a new friend and a wiped friend get every live report, own and relayed", {
    timeout: 180_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      // c reports to a (relayed on by a); b is a's friend from the start; d joins later.
      await runNetwork(scene, {
        nodes: [{ name: "a" }, { name: "b" }, { name: "c" }, { name: "d", logLevel: "info" }],
        links: [
          ["a", "b"],
          ["a", "c"],
        ],
      });
      const a = scene.node("a");
      let b = scene.node("b");
      const c = scene.node("c");
      let d = scene.node("d");
      const own = attackers(0xa3, 50);
      const relayed = attackers(0xa4, 20);
      await reportAll(a, own);
      await reportAll(c, relayed);
      await waitFor(async () => (await heldIps(a)).size === 70, 60_000, "a to hold 70 IPs");

      // d is added on both sides: a reloads its friends.d, d restarts with a as friend.
      await d.stop();
      const blockOf = (node: RunningNode, trust: number): string => {
        const block = YAML.parse(fs.readFileSync(path.join(node.home, "keys", "node.pub"), "utf8"));
        return YAML.stringify({ ...block, trust });
      };
      fs.writeFileSync(path.join(a.home, "friends.d", "d.yaml"), blockOf(d, 80));
      fs.writeFileSync(path.join(d.home, "friends.d", "a.yaml"), blockOf(a, 80));
      a.child.kill("SIGHUP");
      d = await restart(scene, d);
      const expected = new Map([
        ...own.map((ip) => [ip, 80] as const),
        ...relayed.map((ip) => [ip, 64] as const),
      ]);
      await waitFor(async () => (await heldIps(d)).size === 70, 60_000, "d to hold all 70 IPs");
      assert.deepEqual(await heldIps(d), expected);
      assertBannedOnce(d, own);

      // b loses its state dir (a reinstall): it gets everything again.
      await b.stop();
      fs.rmSync(path.join(b.home, "state"), { recursive: true });
      b = await restart(scene, b);
      await waitFor(async () => (await heldIps(b)).size === 70, 60_000, "wiped b to hold all 70 IPs again");
      assert.deepEqual(await heldIps(b), expected);
    });
  });

  it("nothing expired is resent", { timeout: 120_000 }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, { nodes: [{ name: "a" }, { name: "b" }], links: [["a", "b"]] });
      let a = scene.node("a");
      let b = scene.node("b");
      await b.stop();
      await a.stop();
      // One report whose 24 h lifetime ends a few seconds from now, one fresh.
      const [old, fresh] = attackers(0xa5, 2) as [string, string];
      const expiresAt = Date.now() + 4_000;
      spoolAll(a, [old], expiresAt - 86_400_000);
      spoolAll(a, [fresh]);
      a = await restart(scene, a);
      assert.deepEqual([...(await heldIps(a)).keys()].sort(), [old, fresh].sort());
      await waitFor(() => Date.now() > expiresAt, 30_000, "the old report's lifetime to end");
      b = await restart(scene, b);
      await awaitBanLines(b, [fresh]);
      assertBannedOnce(b, [fresh]);
      assert.deepEqual(await rejected(b), {}, "b refused something: was an expired report sent?");
    });
  });

  it("a link that dies without a word loses nothing: the next sync brings what it swallowed", {
    timeout: 180_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, {
        nodes: [
          { name: "a", syncInterval: "2s" },
          { name: "b", syncInterval: "2s", logLevel: "info" },
        ],
        links: [["a", "b"]],
      });
      let a = scene.node("a");
      const b = scene.node("b");
      // a reaches b through a relay on loopback that can stop forwarding without closing anything.
      const bPort = Number(
        /:(\d+)$/.exec((YAML.parse(fs.readFileSync(b.config, "utf8")) as { listen: string }).listen)![1],
      );
      const relay = await Relay.start(bPort);
      scene.teardown.add(() => relay.close());
      const friendFile = path.join(a.home, "friends.d", "b.yaml");
      const friend = YAML.parse(fs.readFileSync(friendFile, "utf8")) as Record<string, unknown>;
      fs.writeFileSync(friendFile, YAML.stringify({ ...friend, endpoint: `tcp://127.0.0.1:${relay.port}` }));
      await a.stop();
      a = await restart(scene, a);
      await waitFor(
        async () => (await a.status()).friends.every((f) => f.connected),
        30_000,
        "a → relay → b",
      );
      const before = attackers(0xa6, 3);
      await reportAll(a, before);
      await awaitBanLines(b, before);

      relay.blackhole();
      const swallowed = attackers(0xa7, 10);
      await reportAll(a, swallowed);
      assert.deepEqual(
        swallowed.filter((ip) => banLines(b).has(ip)),
        [],
        "the relay let reports through while it was to swallow them",
      );
      // The flows come back as a NAT that lost its state would have them: reset, so a dials again.
      relay.restore();
      await awaitBanLines(b, [...before, ...swallowed]);
      assertBannedOnce(b, [...before, ...swallowed]);
    });
  });
});

/**
 * A TCP relay on 127.0.0.1 in front of a node's listen port. `blackhole()` stops forwarding in both
 * directions without closing anything (a NAT or firewall that drops a flow); `restore()` resets the
 * stalled connections and forwards new ones again.
 */
class Relay {
  readonly #server: net.Server;
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  #dropping = false;

  private constructor(server: net.Server) {
    this.#server = server;
  }

  static async start(targetPort: number): Promise<Relay> {
    let relay: Relay | undefined;
    const server = net.createServer((client) => relay!.#accept(client, targetPort));
    relay = new Relay(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return relay;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  #accept(client: net.Socket, targetPort: number): void {
    const upstream = net.connect(targetPort, "127.0.0.1");
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.#pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket): void => {
      from.on("data", (chunk: Buffer) => {
        if (!this.#dropping) to.write(chunk);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    const end = (): void => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  }

  blackhole(): void {
    this.#dropping = true;
  }

  restore(): void {
    for (const [client, upstream] of this.#pairs) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.#pairs.clear();
    this.#dropping = false;
  }

  async close(): Promise<void> {
    this.restore();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
