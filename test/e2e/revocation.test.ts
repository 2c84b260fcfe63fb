/**
 * Revocation across friends (docs/protocol.md section 17) with real `f2bp2p run` processes, the
 * real CLI and real ZeroMQ sockets on loopback: the origin takes its report back with `f2bp2p
 * revoke`, every friend's score drops and its ban is lifted with one UNBAN line; a friend that was
 * down gets the revocation by catch-up sync and the report does not come back; a revocation signed
 * by anyone but the origin is refused and counted against the friend that sent it.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { loadIdentity } from "../../src/keys/identity.js";
import { REVOCATION_SIGNING_TAG } from "../../src/protocol/constants.js";
import { sealEnvelope } from "../../src/protocol/envelope.js";
import { signReport } from "../../src/protocol/report.js";
import { encodeRevocation } from "../../src/protocol/revocation.js";
import { sha256, signTagged } from "../../src/protocol/signing.js";
import { f2bp2p } from "../helpers/cli.js";
import { assertShape } from "../helpers/json-schema.js";
import { waitFor } from "../helpers/wait.js";
import {
  hasBanLine,
  keysOf,
  pushAs,
  type RunningNode,
  reportWithCli,
  runNetwork,
  runNode,
  Scene,
} from "./hosts.js";

/** BAN and UNBAN lines of `ip` in a node's bans log. */
function lines(node: RunningNode, kind: "BAN" | "UNBAN", ip: string): string[] {
  return node
    .bans()
    .split("\n")
    .filter((l) => l.includes(` ${kind} ${ip} `) || l.endsWith(` ${kind} ${ip}`));
}

function hasUnbanLine(node: RunningNode, ip: string): boolean {
  return lines(node, "UNBAN", ip).length > 0;
}

/** `status --ip IP -o json` through the real CLI, checked against its schema. */
async function scoreOf(node: RunningNode, ip: string) {
  const run = await f2bp2p(["-c", node.config, "status", "--ip", ip, "-o", "json"]);
  assert.equal(run.code, 0, run.stderr);
  return assertShape("score", run.stdout) as unknown as {
    score: number;
    banned: boolean;
    origins: { origin: string }[];
    revoked: { origin: string; time: string; reason: string }[];
  };
}

async function statsOf(node: RunningNode) {
  return (await node.status()) as unknown as {
    id: string;
    stats: { revocations: number; rejected: Record<string, number> };
    friends: {
      name: string;
      rejected: Record<string, number>;
      faults: number;
      sync: { state: string; received: number };
    }[];
  };
}

/** Three hops a–b–c, trust 100 both ways, so each node bans on a's report alone. */
async function chain(scene: Scene, logLevel: "info" | "warn" = "warn") {
  await runNetwork(scene, {
    nodes: [{ name: "a" }, { name: "b", logLevel }, { name: "c", logLevel }],
    links: [
      ["a", "b", 100, 100],
      ["b", "c", 100, 100],
    ],
  });
  return { a: scene.node("a"), b: scene.node("b"), c: scene.node("c") };
}

/**
 * Sends `frames` to `to` over a real CURVE connection made with `from`'s own keys, as `from` would,
 * and resolves once `to` has counted `done`.
 */
async function sendAs(
  from: RunningNode,
  to: RunningNode,
  frames: Buffer[],
  done: () => Promise<boolean>,
): Promise<void> {
  await pushAs(keysOf(from), to, [frames]);
  await waitFor(done, 20_000, `${to.name} to take in what ${from.name} sent`);
}

async function restart(scene: Scene, node: RunningNode): Promise<RunningNode> {
  const again = await runNode(node.name, node.config, scene.teardown);
  scene.nodes.set(node.name, again);
  return again;
}

describe("revocation: the origin takes its report back", () => {
  it("three hops: scores drop, each friend writes one UNBAN, and no second BAN follows", {
    timeout: 120_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const { a, b, c } = await chain(scene, "info");
      const ip = "203.0.113.41";
      await reportWithCli(a, ip, "sshd");
      await waitFor(() => hasBanLine(b, ip) && hasBanLine(c, ip), 20_000, "the ban at b and c");
      assert.equal((await scoreOf(c, ip)).score, 100);

      const run = await f2bp2p(["-c", a.config, "revoke", ip, "--reason", "office address", "-o", "json"]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(assertShape("revoke", run.stdout), {
        version: 1,
        ip,
        reason: "office address",
        score: 0,
        banned: false,
        result: "revoked",
      });
      assert.equal(lines(a, "UNBAN", ip).length, 1, "the origin lifts its own ban");

      await waitFor(() => hasUnbanLine(b, ip) && hasUnbanLine(c, ip), 20_000, "UNBAN at b and c");
      const aId = (await statsOf(a)).id;
      for (const node of [b, c]) {
        const score = await scoreOf(node, ip);
        assert.equal(score.score, 0, node.name);
        assert.equal(score.banned, false, node.name);
        assert.deepEqual(score.origins, [], node.name);
        assert.deepEqual(
          score.revoked.map((r) => [r.origin, r.reason]),
          [[aId, "office address"]],
          node.name,
        );
        assert.match(lines(node, "UNBAN", ip)[0]!, /reason=revoked$/);
      }
      const human = await f2bp2p(["-c", c.config, "status", "--ip", ip]);
      assert.match(human.stdout, new RegExp(`origin ${aId}: revoked at .* \\(office address\\)`));
      const bans = await f2bp2p(["-c", c.config, "bans", "-o", "json"]);
      const listed = assertShape("bans", bans.stdout) as unknown as {
        ips: { ip: string }[];
        revoked: { ip: string; origin: string }[];
      };
      assert.deepEqual(listed.ips, []);
      assert.deepEqual(
        listed.revoked.map((r) => [r.ip, r.origin]),
        [[ip, aId]],
      );

      // b starts again and catches up with a and c, which both still hold the report: it stays revoked.
      await b.stop();
      const b2 = await restart(scene, b);
      await waitFor(
        async () => (await statsOf(b2)).friends.every((f) => f.sync.state === "caught-up"),
        30_000,
        "b to catch up with a and c",
      );
      for (const node of [a, b2, c]) {
        assert.equal(lines(node, "BAN", ip).length, 1, `${node.name}: one BAN`);
        assert.equal(lines(node, "UNBAN", ip).length, 1, `${node.name}: one UNBAN`);
        assert.equal((await scoreOf(node, ip)).score, 0, node.name);
      }
    });
  });

  it("revoking an address this node never reported says so and exits non-zero", async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const { a, b } = await chain(scene);
      const ip = "198.51.100.42";
      await reportWithCli(a, ip, "sshd");
      await waitFor(() => hasBanLine(b, ip), 20_000, "the ban at b");
      const run = await f2bp2p(["-c", b.config, "revoke", ip]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /not revoked: this node holds no live report of its own of it/);
      const json = await f2bp2p(["-c", b.config, "revoke", ip, "-o", "json"]);
      assert.equal(json.code, 1);
      assert.equal(assertShape("revoke", json.stdout).result, "not-reported");
      assert.equal((await scoreOf(b, ip)).score, 100, "nothing changed at b");
      const bad = await f2bp2p(["-c", a.config, "revoke", ip, "--reason", "x".repeat(65)]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--reason must be at most 64 printable ASCII characters/);
      const badIp = await f2bp2p(["-c", a.config, "revoke", "203.0.113.256"]);
      assert.equal(badIp.code, 2);
    });
  });

  it("a node that was down gets the revocation by catch-up; the report does not come back through b", {
    timeout: 120_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const { a, b, c } = await chain(scene, "info");
      const ip = "203.0.113.43";
      await reportWithCli(a, ip, "sshd");
      await waitFor(() => hasBanLine(c, ip), 20_000, "the ban at c");
      await c.stop();
      const beforeRevocation = Date.now();
      const run = await f2bp2p(["-c", a.config, "revoke", ip]);
      assert.equal(run.code, 0, run.stderr);
      await waitFor(() => hasUnbanLine(b, ip), 20_000, "UNBAN at b");
      assert.equal(hasUnbanLine(c, ip), false, "c was down");

      const c2 = await restart(scene, c);
      await waitFor(() => hasUnbanLine(c2, ip), 30_000, "UNBAN at c after catch-up");
      await waitFor(
        async () => (await statsOf(c2)).friends.every((f) => f.sync.state === "caught-up"),
        30_000,
        "c to catch up with b",
      );
      assert.ok((await statsOf(c2)).friends[0]!.sync.received >= 1, "the revocation came by catch-up");
      const score = await scoreOf(c2, ip);
      assert.equal(score.score, 0);
      assert.equal(score.banned, false);
      assert.equal(score.revoked.length, 1);
      assert.equal(lines(c2, "BAN", ip).length, 1, "no second BAN at c");
      assert.equal(lines(c2, "UNBAN", ip).length, 1);
      assert.match(lines(c2, "UNBAN", ip)[0]!, /reason=revoked$/);

      // b relays a report a made before the revocation (as a friend that still held it would):
      // c refuses it as revoked and the address stays unbanned.
      const aKeys = loadIdentity(path.join(a.home, "keys"));
      const bKeys = loadIdentity(path.join(b.home, "keys"));
      const cKeys = loadIdentity(path.join(c2.home, "keys"));
      const stale = signReport(
        { ip, time: beforeRevocation, origin: aKeys.signingPublicKey, jail: "sshd" },
        aKeys.signer,
      );
      const frames = sealEnvelope(
        {
          from: bKeys.signingPublicKey,
          to: cKeys.signingPublicKey,
          entries: [{ id: stale.id, trust: 100, path: [aKeys.signingPublicKey, bKeys.signingPublicKey] }],
        },
        [stale],
        bKeys.signer,
      );
      await sendAs(b, c2, frames, async () => ((await statsOf(c2)).stats.rejected.revoked ?? 0) === 1);
      assert.equal((await scoreOf(c2, ip)).score, 0);
      assert.equal((await statsOf(c2)).friends[0]!.faults, 0, "revoked is no fault of b's");
      assert.equal(lines(c2, "BAN", ip).length, 1, "still no second BAN at c");
    });
  });

  it("a revocation of a's report signed by b is refused as bad-origin-signature and counted against b", {
    timeout: 60_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const { a, b, c } = await chain(scene);
      const ip = "203.0.113.44";
      await reportWithCli(a, ip, "sshd");
      await waitFor(() => hasBanLine(c, ip), 20_000, "the ban at c");

      // b's own keys, as a rogue b would use them: a revocation naming a as origin, signed by b.
      const bKeys = loadIdentity(path.join(b.home, "keys"));
      const cKeys = loadIdentity(path.join(c.home, "keys"));
      const aKeys = loadIdentity(path.join(a.home, "keys"));
      const bytes = encodeRevocation({
        ip,
        time: Date.now(),
        origin: aKeys.signingPublicKey,
        reason: "forged",
      });
      const forged = { bytes, signature: signTagged(REVOCATION_SIGNING_TAG, bytes, bKeys.signer) };
      const frames = sealEnvelope(
        {
          from: bKeys.signingPublicKey,
          to: cKeys.signingPublicKey,
          entries: [
            { id: sha256(bytes), trust: 100, path: [aKeys.signingPublicKey, bKeys.signingPublicKey] },
          ],
        },
        [forged],
        bKeys.signer,
      );
      await sendAs(
        b,
        c,
        frames,
        async () => ((await statsOf(c)).stats.rejected["bad-origin-signature"] ?? 0) === 1,
      );
      const friendB = (await statsOf(c)).friends.find((f) => f.name === "b")!;
      assert.equal(friendB.rejected["bad-origin-signature"], 1);
      assert.equal(friendB.faults, 1, "counted against b as a fault");
      assert.equal((await statsOf(c)).stats.revocations, 0);
      assert.equal((await scoreOf(c, ip)).score, 100, "the report still counts");
      assert.equal(hasUnbanLine(c, ip), false);
      const status = await f2bp2p(["-c", c.config, "status", "-o", "json"]);
      assertShape("status", status.stdout);
    });
  });
});
