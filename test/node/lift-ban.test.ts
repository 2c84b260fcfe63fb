/**
 * F2bNode.liftBan (the UNBAN line, written once, recorded in the store), the ignore list applied to
 * what is already banned, and no echo: a ban taken from friends' reports is never reported as the
 * node's own, while a fresh address from a local jail still is.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import YAML from "yaml";
import { LocalNetwork } from "../../src/demo/local-network.js";
import type { F2bNode } from "../../src/node/node.js";
import { openNodeState } from "../../src/state/open.js";

const networks: LocalNetwork[] = [];
after(async () => {
  await Promise.all(networks.map((n) => n.stop()));
});

/** How many lines of the bans log are `WORD IP ...` lines. */
function lineCount(text: string, word: "BAN" | "UNBAN", ip: string): number {
  return text.split("\n").filter((l) => l.includes(` ${word} ${ip} `) || l.endsWith(` ${word} ${ip}`)).length;
}

/** a and b, friends at trust 80: a's own report (trust 100) arrives at b with 80, b's threshold. */
async function pair(): Promise<LocalNetwork> {
  const net = await LocalNetwork.start({ nodes: [{ name: "a" }, { name: "b" }], links: [["a", "b"]] });
  networks.push(net);
  await net.connected();
  return net;
}

async function banFromFriend(net: LocalNetwork, ip: string): Promise<F2bNode> {
  const b = net.node("b");
  const banned = once(b, "ban");
  assert.equal(net.node("a").reportLocal(ip, "sshd").status, "accepted");
  const [event] = await banned;
  assert.equal(event.ip, ip);
  return b;
}

describe("F2bNode.liftBan", () => {
  it("writes one UNBAN line the shipped filter ignores, keeps the lift across a restart, never twice", async () => {
    const net = await pair();
    const ip = "203.0.113.71";
    let b = await banFromFriend(net, ip);
    assert.equal(lineCount(net.bansLog("b"), "BAN", ip), 1);

    const result = b.liftBan(ip, "revoked");
    assert.deepEqual(result, { status: "lifted" });
    const log = net.bansLog("b");
    assert.match(log, new RegExp(`^\\S+Z UNBAN ${ip.replaceAll(".", "\\.")} reason=revoked$`, "m"));
    assert.equal(lineCount(log, "BAN", ip), 1);
    assert.equal(lineCount(log, "UNBAN", ip), 1);
    assert.equal(b.ledger.isBanned(ip), false);
    assert.equal(
      b.ledger.ban(ip)?.withheld,
      true,
      "the record stays, withheld: the same reports do not ban again",
    );
    assert.equal(b.stats.unbans, 1);
    assert.deepEqual(b.liftBan(ip, "revoked"), { status: "not-banned" });
    assert.deepEqual(b.liftBan("203.0.113.72", "revoked"), { status: "not-banned" });
    assert.deepEqual(b.liftBan("not an address", "revoked"), { status: "invalid-ip" });
    assert.throws(() => b.liftBan(ip, "Not A Token"), /not a token/);

    b = await net.restart("b");
    const again = net.bansLog("b");
    assert.equal(lineCount(again, "BAN", ip), 1, "no ban line written again at start");
    assert.equal(lineCount(again, "UNBAN", ip), 1, "no unban line written again at start");
    assert.equal(b.ledger.isBanned(ip), false);
  });

  it("a lift whose UNBAN line was not written is written at the next start; one that was is not repeated", async () => {
    const net = await pair();
    const written = "203.0.113.73";
    const unwritten = "203.0.113.74";
    const b = await banFromFriend(net, written);
    await banFromFriend(net, unwritten);
    await net.settled();
    // While b is down: a lift recorded in the store whose line never made it (the process died in
    // between), and one whose line made it but not the store's "written" mark.
    await net.restart("b", async () => {
      const state = openNodeState(b.config.stateDir);
      try {
        state.store.transaction(() => {
          for (const ip of [written, unwritten])
            state.store.decideBan({ ...state.store.ban(ip)!, withheld: true });
        });
      } finally {
        state.close();
      }
      fs.appendFileSync(b.config.bansLog, `${new Date().toISOString()} UNBAN ${written} reason=revoked\n`);
    });
    const log = net.bansLog("b");
    assert.equal(lineCount(log, "UNBAN", written), 1, "found in the bans log, not written twice");
    assert.equal(lineCount(log, "UNBAN", unwritten), 1, "written at start");
    assert.match(log, new RegExp(`UNBAN ${unwritten.replaceAll(".", "\\.")} reason=resumed$`, "m"));
    const b3 = net.node("b");
    assert.equal(b3.ledger.isBanned(written), false);
    assert.equal(b3.ledger.isBanned(unwritten), false);
    assert.equal(b3.ledger.store.pendingLifts(10).length, 0);
  });
});

describe("ignore list changes", () => {
  it("setIgnoreList lifts this node's bans of the newly ignored addresses, only those", async () => {
    const net = await pair();
    const b = await banFromFriend(net, "198.51.100.81");
    await banFromFriend(net, "203.0.113.81");
    const unbans: string[] = [];
    b.on("unban", (e) => unbans.push(`${e.ip} ${e.reason}`));
    b.setIgnoreList(["198.51.100.80/29"]);
    assert.deepEqual(unbans, ["198.51.100.81 ignore-list"]);
    assert.equal(b.ledger.isBanned("198.51.100.81"), false);
    assert.equal(b.ledger.isBanned("203.0.113.81"), true);
    assert.equal(lineCount(net.bansLog("b"), "UNBAN", "198.51.100.81"), 1);
    // Now never reported nor banned.
    assert.equal(b.reportLocal("198.51.100.82", "sshd").status, "ignored");
    b.setIgnoreList(["198.51.100.80/29"]);
    assert.equal(
      lineCount(net.bansLog("b"), "UNBAN", "198.51.100.81"),
      1,
      "applying it again lifts nothing twice",
    );
  });

  it("an address added to ignore while the node was down is lifted at start", async () => {
    const net = await pair();
    const ip = "198.51.100.83";
    const b = await banFromFriend(net, ip);
    await net.settled();
    const restarted = await net.restart("b", async () => {
      const config = YAML.parse(fs.readFileSync(b.config.file, "utf8")) as Record<string, unknown>;
      fs.writeFileSync(b.config.file, YAML.stringify({ ...config, ignore: [ip] }));
    });
    assert.match(net.bansLog("b"), new RegExp(`UNBAN ${ip.replaceAll(".", "\\.")} reason=ignore-list$`, "m"));
    assert.equal(restarted.ledger.isBanned(ip), false);
    await net.restart("b");
    assert.equal(lineCount(net.bansLog("b"), "UNBAN", ip), 1, "not lifted twice by the next start");
  });

  it("the origin lifts its own ban and revokes its report, so its friends lift theirs too", async () => {
    const net = await pair();
    const a = net.node("a");
    const ip = "203.0.113.82";
    const b = await banFromFriend(net, ip);
    const hooked: string[] = [];
    a.on("own-report:never-ban", (e) => hooked.push(`${e.ip} ${e.reason} ${e.revoked}`));
    const liftedAtB = once(b, "unban");
    a.setIgnoreList([ip]);
    assert.deepEqual(hooked, [`${ip} ignore-list revoked`]);
    assert.equal(a.ledger.isBanned(ip), false);
    assert.equal(lineCount(net.bansLog("a"), "UNBAN", ip), 1);
    const [event] = await liftedAtB;
    assert.deepEqual(event, { ip, reason: "revoked" });
    assert.equal(b.ledger.score(ip), 0);
    assert.deepEqual(
      b.ledger.revocations(ip).map((r) => r.reason),
      ["ignore-list"],
    );
    assert.equal(lineCount(net.bansLog("b"), "UNBAN", ip), 1);
    // The lifted ban is forgotten: a new detection (here b's own jail) bans the address again.
    const again = b.reportLocal(ip, "sshd");
    assert.equal(again.status, "accepted");
    assert.equal(again.status === "accepted" && again.banned, true);
    assert.equal(lineCount(net.bansLog("b"), "BAN", ip), 2);
  });
});

describe("no echo", () => {
  it("a ban taken from friends is not reported as this node's own by any jail; a fresh address is", async () => {
    const net = await pair();
    const ip = "203.0.113.91";
    const b = await banFromFriend(net, ip);
    const before = b.ledger.contributions(ip).length;
    for (const jail of ["recidive", "blacklist", "f2bp2p-default"]) {
      const result = b.reportLocal(ip, jail);
      assert.equal(result.status, "ignored", jail);
      assert.match(
        result.status === "ignored" ? result.reason : "",
        /banned here because of friends' reports/,
      );
    }
    assert.equal(b.stats.echoesStopped, 3);
    assert.equal(b.stats.localReports, 0);
    assert.equal(b.ledger.contributions(ip).length, before, "no contribution of b's own");
    // The control: a fresh address from a local jail is reported as b's own.
    assert.equal(b.reportLocal("203.0.113.92", "sshd").status, "accepted");
    assert.equal(b.stats.localReports, 1);
    // Once lifted, the ban no longer lasts: a later local ban is this node's own again.
    b.liftBan(ip, "revoked");
    assert.equal(b.reportLocal(ip, "sshd").status, "accepted");
  });
});
