/**
 * Never-ban lists between friends (docs/protocol.md section 18) with real `f2bp2p run` processes,
 * the real CLI and real ZeroMQ sockets on loopback: a friend's listed addresses are not banned
 * because of that friend (its own reports and those relayed through it), other friends' reports
 * still ban them unless the friend file says `never_ban_applies_to_all`; lists over the caps are
 * refused and counted; a list stops holding bans back when it expires; a list arrives by catch-up.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import YAML from "yaml";
import { friendBlock, generateIdentity, type Identity } from "../../src/keys/identity.js";
import { NEVER_BAN_LIST_SIGNING_TAG } from "../../src/protocol/constants.js";
import { sealEnvelope } from "../../src/protocol/envelope.js";
import { type IpRange, parseRange } from "../../src/protocol/ip.js";
import { sealNeverBanList } from "../../src/protocol/never-ban-list.js";
import { signReport } from "../../src/protocol/report.js";
import { signTagged } from "../../src/protocol/signing.js";
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

interface ListStatus {
  ranges: string[];
  expires: string;
  inForce: boolean;
  appliesToAll: boolean;
}

async function statusOf(node: RunningNode) {
  const run = await f2bp2p(["-c", node.config, "status", "-o", "json"]);
  assert.equal(run.code, 0, run.stderr);
  return assertShape("status", run.stdout) as unknown as {
    neverBanShared: string[];
    stats: { rejected: Record<string, number> };
    friends: {
      name: string;
      neverBanList: ListStatus | null;
      rejected: Record<string, number>;
      faults: number;
    }[];
  };
}

async function listAt(node: RunningNode, friend: string): Promise<ListStatus | null> {
  return (await statusOf(node)).friends.find((f) => f.name === friend)!.neverBanList;
}

async function scoreOf(node: RunningNode, ip: string) {
  const run = await f2bp2p(["-c", node.config, "status", "--ip", ip, "-o", "json"]);
  assert.equal(run.code, 0, run.stderr);
  return assertShape("score", run.stdout) as unknown as {
    score: number;
    banned: boolean;
    heldBackBy?: string;
    heldBackForAll?: boolean;
  };
}

function lines(node: RunningNode, kind: "BAN" | "UNBAN", ip: string): string[] {
  return node
    .bans()
    .split("\n")
    .filter((l) => l.includes(` ${kind} ${ip} `) || l.endsWith(` ${kind} ${ip}`));
}

function range(text: string): IpRange {
  const parsed = parseRange(text);
  assert.ok(parsed.ok, text);
  return parsed.range;
}

/** Rewrites keys of a node's friend file (`friends.d/<friend>.yaml`). */
function setFriendKey(node: RunningNode, friend: string, key: string, value: unknown): void {
  const file = path.join(node.home, "friends.d", `${friend}.yaml`);
  const doc = YAML.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  doc[key] = value;
  fs.writeFileSync(file, YAML.stringify(doc));
}

/** A friend made by the test itself: its keys are in `node`'s friends.d, it never listens. */
function fakeFriend(node: RunningNode, name: string): Identity {
  const identity = generateIdentity();
  // Port 9 (discard) on loopback: nothing listens there, the node's link to it stays down.
  fs.writeFileSync(
    path.join(node.home, "friends.d", `${name}.yaml`),
    friendBlock(name, "tcp://127.0.0.1:9", identity, 100),
  );
  return identity;
}

function listFrames(from: Identity, to: RunningNode, ranges: IpRange[], lifetimeMs = 3600_000): Buffer[] {
  const toKeys = keysOf(to);
  const time = Date.now();
  return sealNeverBanList(
    { from: from.signingPublicKey, to: toKeys.signingPublicKey, time, expiresAt: time + lifetimeMs, ranges },
    from.signer,
  );
}

function reportFrames(from: Identity, to: RunningNode, ip: string): Buffer[] {
  const toKeys = keysOf(to);
  const signed = signReport(
    { ip, time: Date.now(), origin: from.signingPublicKey, jail: "sshd" },
    from.signer,
  );
  return sealEnvelope(
    {
      from: from.signingPublicKey,
      to: toKeys.signingPublicKey,
      entries: [{ id: signed.id, trust: 100, path: [from.signingPublicKey] }],
    },
    [signed],
    from.signer,
  );
}

describe("never-ban lists between friends", () => {
  it("a listed address is not banned through that friend, still is through others; never_ban_applies_to_all shields it from all", {
    timeout: 180_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      // d - a - b - c, trust 100 (c trusts b 50, so b's relays alone do not ban at c and c's own
      // reports of them are detections, not echoes): one report bans unless a list holds it back.
      await runNetwork(scene, {
        nodes: [
          { name: "a", shareNeverBan: ["198.51.100.0/24"] },
          { name: "b", logLevel: "info" },
          { name: "c" },
          { name: "d" },
        ],
        links: [
          ["d", "a", 100, 100],
          ["a", "b", 100, 100],
          ["b", "c", 100, 50],
        ],
      });
      const [a, b, c, d] = ["a", "b", "c", "d"].map((n) => scene.node(n)) as [
        RunningNode,
        RunningNode,
        RunningNode,
        RunningNode,
      ];
      assert.equal((await statusOf(a)).neverBanShared[0], "198.51.100.0/24");
      // b asked a for catch-up when their link connected: a's answer led with its list.
      await waitFor(
        async () => (await listAt(b, "a"))?.ranges.includes("198.51.100.0/24") === true,
        20_000,
        "a's list at b",
      );
      const atB = (await listAt(b, "a"))!;
      assert.equal(atB.inForce, true);
      assert.equal(atB.appliesToAll, false);

      // a's own report (a jail misfiring on the office) and d's report relayed through a.
      await reportWithCli(a, "198.51.100.7", "sshd");
      await reportWithCli(d, "198.51.100.8", "sshd");
      for (const ip of ["198.51.100.7", "198.51.100.8"]) {
        await waitFor(async () => (await scoreOf(b, ip)).score === 100, 20_000, `${ip} at b`);
        const score = await scoreOf(b, ip);
        assert.equal(score.banned, false, ip);
        assert.equal(score.heldBackBy, "a", ip);
        assert.deepEqual(lines(b, "BAN", ip), [], ip);
      }
      // The list holds back bans at b only: b still relays what a sent.
      await waitFor(async () => (await scoreOf(c, "198.51.100.8")).score === 50, 20_000, "b's relay at c");
      const human = await f2bp2p(["-c", b.config, "status", "--ip", "198.51.100.7"]);
      assert.match(
        human.stdout,
        /not banned: friend a's never-ban list holds the ban back \(from its own reports and those relayed through it\)/,
      );
      const bans = await f2bp2p(["-c", b.config, "bans", "-o", "json"]);
      const listed = assertShape("bans", bans.stdout) as unknown as {
        ips: { ip: string; heldBackBy?: string }[];
      };
      assert.equal(listed.ips.find((e) => e.ip === "198.51.100.7")?.heldBackBy, "a");
      const humanStatus = await f2bp2p(["-c", b.config, "status"]);
      assert.match(
        humanStatus.stdout,
        /a never-ban list, until .* \(its reports and those relayed through it do not ban them\): 198\.51\.100\.0\/24/,
      );

      // Another friend's report of a listed address bans it (the list protects from a, not from c).
      await reportWithCli(c, "198.51.100.9", "sshd");
      await reportWithCli(c, "198.51.100.7", "sshd");
      await waitFor(
        () => hasBanLine(b, "198.51.100.9") && hasBanLine(b, "198.51.100.7"),
        20_000,
        "c's bans at b",
      );

      // b trusts a's list for every report: the bans it now holds back are lifted at once.
      setFriendKey(b, "a", "never_ban_applies_to_all", true);
      b.child.kill("SIGHUP");
      await waitFor(
        () =>
          lines(b, "UNBAN", "198.51.100.9").length === 1 && lines(b, "UNBAN", "198.51.100.7").length === 1,
        20_000,
        "UNBAN of both at b",
      );
      assert.match(lines(b, "UNBAN", "198.51.100.9")[0]!, /reason=friend-never-ban$/);
      assert.equal((await listAt(b, "a"))!.appliesToAll, true);
      await reportWithCli(c, "198.51.100.10", "sshd");
      await waitFor(async () => (await scoreOf(b, "198.51.100.10")).score === 100, 20_000, "c's report at b");
      assert.equal((await scoreOf(b, "198.51.100.10")).heldBackBy, "a");
      assert.equal((await scoreOf(b, "198.51.100.10")).heldBackForAll, true);
      assert.deepEqual(lines(b, "BAN", "198.51.100.10"), []);

      // And back: what the list no longer holds back is banned again, without a new report.
      setFriendKey(b, "a", "never_ban_applies_to_all", false);
      b.child.kill("SIGHUP");
      await waitFor(
        () => hasBanLine(b, "198.51.100.10") && lines(b, "BAN", "198.51.100.9").length === 2,
        20_000,
        "bans released at b",
      );
      assert.deepEqual(lines(b, "BAN", "198.51.100.8"), [], "a's relay stays held back");
    });
  });

  it("caps: check refuses a list too long or too wide; a friend's list over the caps is refused and counted", {
    timeout: 120_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, { nodes: [{ name: "a" }, { name: "b" }], links: [["a", "b", 100, 100]] });
      const [a, b] = [scene.node("a"), scene.node("b")];
      const original = fs.readFileSync(a.config, "utf8");
      // check shows the list run will send, first the configured ranges.
      fs.writeFileSync(a.config, `${original}share_never_ban: ['198.51.100.0/24']\n`);
      const shown = await f2bp2p(["-c", a.config, "check", "-o", "json"]);
      assert.equal(shown.code, 0, shown.stderr);
      const checked = assertShape("check", shown.stdout) as unknown as { neverBanShared: string[] };
      assert.equal(checked.neverBanShared[0], "198.51.100.0/24");
      assert.match(
        (await f2bp2p(["-c", a.config, "check"])).stdout,
        /^never-ban list for friends: 198\.51\.100\.0\/24/m,
      );
      fs.writeFileSync(a.config, `${original}share_never_ban: ['198.51.100.0/23']\n`);
      let check = await f2bp2p(["-c", a.config, "check"]);
      assert.equal(check.code, 2, check.stdout + check.stderr);
      assert.match(
        check.stdout + check.stderr,
        /share_never_ban\[0\]: expected a range no wider than \/24 for IPv4 .*got 198\.51\.100\.0\/23/s,
      );
      const many = Array.from({ length: 65 }, (_, i) => `'203.0.113.${i + 1}'`).join(", ");
      fs.writeFileSync(a.config, `${original}share_never_ban: [${many}]\n`);
      check = await f2bp2p(["-c", a.config, "check"]);
      assert.equal(check.code, 2);
      assert.match(check.stdout + check.stderr, /share_never_ban.*at most 64.*65 items/s);
      fs.writeFileSync(a.config, `${original}share_never_ban: ['2001:db8:1::/47']\n`);
      check = await f2bp2p(["-c", a.config, "check"]);
      assert.equal(check.code, 2);
      assert.match(check.stdout + check.stderr, /share_never_ban\[0\].*got 2001:db8::\/47/s);

      // As a rogue a would send them (a's own keys over a real CURVE connection).
      const keys = keysOf(a);
      const tooWide = listFrames(keys, b, [
        { ...range("198.51.100.0/24"), prefix: 23, text: "198.51.100.0/23" },
      ]);
      const tooWide6 = listFrames(keys, b, [
        { ...range("2001:db8::/48"), prefix: 47, text: "2001:db8::/47" },
      ]);
      const full = listFrames(
        keys,
        b,
        Array.from({ length: 64 }, (_, i) => range(`203.0.113.${i + 1}`)),
      );
      // A 65th entry: count byte and one more entry, signed again by a.
      const bytes = Buffer.concat([full[0]!, full[0]!.subarray(full[0]!.length - 18)]);
      bytes[2] = 65;
      const tooMany = sealRaw(bytes, keys);
      const tooLong = listFrames(keys, b, [range("198.51.100.1")], 8 * 24 * 3600_000);
      const forged = listFrames(generateIdentity(), b, [range("198.51.100.1")]);
      forged[0]!.set(keys.signingPublicKey, 4);
      await pushAs(keys, b, [tooWide, tooWide6, tooMany, tooLong, forged]);
      await waitFor(
        async () => {
          const s = await statusOf(b);
          const r = s.friends[0]!.rejected;
          return (
            r["range-too-wide"] === 2 &&
            r.malformed === 1 &&
            // Refused before its signature says who sent it: counted for the node only.
            s.stats.rejected["frame-too-large"] === 1 &&
            s.stats.rejected["bad-hop-signature"] === 1
          );
        },
        20_000,
        "b to refuse the lists",
      );
      const status = await statusOf(b);
      assert.equal(status.friends[0]!.faults, 3);
      // None was taken: a's real list (empty) is the one held.
      const held = status.friends[0]!.neverBanList;
      assert.ok(held === null || !held.ranges.includes("198.51.100.1"));
    });
  });

  it("a list stops holding bans back when it expires: the held-back ban is written then", {
    timeout: 120_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, { nodes: [{ name: "b", logLevel: "info" }], links: [] });
      const b = scene.node("b");
      const f = fakeFriend(b, "f");
      b.child.kill("SIGHUP");
      await waitFor(
        async () => (await statusOf(b)).friends.some((x) => x.name === "f"),
        20_000,
        "f added at b",
      );
      const ip = "203.0.113.50";
      await pushAs(f, b, [listFrames(f, b, [range("203.0.113.0/24")], 4000), reportFrames(f, b, ip)]);
      await waitFor(async () => (await scoreOf(b, ip)).score === 100, 20_000, "f's report at b");
      assert.equal((await scoreOf(b, ip)).heldBackBy, "f");
      assert.deepEqual(lines(b, "BAN", ip), []);
      // No further report: the list's expiry alone lets the ban through.
      await waitFor(() => hasBanLine(b, ip), 30_000, "the ban once f's list expired");
      assert.equal((await listAt(b, "f"))!.inForce, false);
      assert.equal((await scoreOf(b, ip)).heldBackBy, undefined);
      assert.match(b.stderr(), /a friend's never-ban list expired/);
    });
  });

  it("a list changed while the friend was down arrives by catch-up and applies", {
    timeout: 180_000,
  }, async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, { nodes: [{ name: "a" }, { name: "b" }], links: [["a", "b", 100, 100]] });
      const [a, b] = [scene.node("a"), scene.node("b")];
      await waitFor(async () => (await listAt(b, "a")) !== null, 20_000, "a's first list at b");
      await b.stop();
      // a's operator adds the office range and restarts a while b is down: nothing is sent live.
      const doc = YAML.parse(fs.readFileSync(a.config, "utf8")) as Record<string, unknown>;
      doc.share_never_ban = ["203.0.113.128/25"];
      fs.writeFileSync(a.config, YAML.stringify(doc));
      await a.stop();
      const a2 = await runNode("a", a.config, scene.teardown);
      scene.nodes.set("a", a2);
      const b2 = await runNode("b", b.config, scene.teardown);
      scene.nodes.set("b", b2);
      await waitFor(
        async () => (await listAt(b2, "a"))?.ranges.includes("203.0.113.128/25") === true,
        30_000,
        "a's new list at b by catch-up",
      );
      await reportWithCli(a2, "203.0.113.130", "sshd");
      await waitFor(
        async () => (await scoreOf(b2, "203.0.113.130")).score === 100,
        20_000,
        "a's report at b",
      );
      assert.equal((await scoreOf(b2, "203.0.113.130")).heldBackBy, "a");
      assert.deepEqual(lines(b2, "BAN", "203.0.113.130"), []);
      // Outside the list, a's report bans as before.
      await reportWithCli(a2, "203.0.113.20", "sshd");
      await waitFor(() => hasBanLine(b2, "203.0.113.20"), 20_000, "a's other report bans at b");
    });
  });
});

/** Two frames of a list whose bytes the test made itself, signed by `keys`. */
function sealRaw(bytes: Buffer, keys: Identity): Buffer[] {
  return [bytes, signTagged(NEVER_BAN_LIST_SIGNING_TAG, bytes, keys.signer)];
}
