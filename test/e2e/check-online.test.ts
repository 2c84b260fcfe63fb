/**
 * `f2bp2p check --online` against real nodes on loopback and a real fail2ban-server: a healthy pair,
 * then each broken case one at a time: a friend that does not admit our key, an unreachable
 * endpoint, a report waiting in the spool, no jail watching the bans log.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { freePorts } from "../../src/demo/local-network.js";
import { type CliRun, f2bp2p } from "../helpers/cli.js";
import { requireFail2ban } from "../helpers/fail2ban.js";
import { runNetwork, Scene, startF2bp2pJailHost } from "./hosts.js";

/** The clock line depends on this host; the exit status must follow it when nothing else is wrong. */
function clockLine(run: CliRun): { line: string; warns: boolean } {
  const line = run.stdout.split("\n").find((l) => /^(ok|warning|note): clock /.test(l));
  assert.ok(line, run.stdout);
  return { line, warns: line.startsWith("warning:") };
}

describe("check --online", () => {
  it("reports a healthy pair, then each broken case with its own line and exit status", async (t) => {
    if (!(await requireFail2ban(t))) return;
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, {
        nodes: [{ name: "a" }, { name: "b" }, { name: "c" }],
        links: [["a", "b", 80, 80]],
      });
      const [a, , c] = ["a", "b", "c"].map((n) => scene.node(n));
      const host = await startF2bp2pJailHost(scene, a!);
      const check = () =>
        f2bp2p(["-c", a!.config, "check", "--online", "--fail2ban-socket", host.fail2ban.socket]);
      const friendsDir = path.join(a!.home, "friends.d");

      // Healthy.
      const healthy = await check();
      assert.match(
        healthy.stdout,
        /^ok: friend b \(tcp:\/\/127\.0\.0\.1:\d+\): resolves, connects and admits our key$/m,
      );
      assert.match(
        healthy.stdout,
        new RegExp(`^ok: bans log ${a!.bansLog} is watched by fail2ban jail f2bp2p$`, "m"),
      );
      assert.match(healthy.stdout, /^ok: spool .* is empty$/m);
      assert.doesNotMatch(healthy.stdout, /^problem:/m);
      const clock = clockLine(healthy);
      assert.equal(healthy.code, clock.warns ? 5 : 0, healthy.stdout + healthy.stderr);

      // c is running but does not have a in its friends.d: its ZAP handler refuses our key.
      const block = await f2bp2p(["-c", c!.config, "friend-block"]);
      assert.equal(block.code, 0, block.stderr);
      fs.writeFileSync(path.join(friendsDir, "c.yaml"), block.stdout);
      const refused = await check();
      assert.equal(refused.code, 6, refused.stdout + refused.stderr);
      assert.match(
        refused.stdout,
        /^problem: friend c \(tcp:\/\/127\.0\.0\.1:\d+\): does not admit our key: the friend refused our key/m,
      );
      assert.match(refused.stdout, /^ok: friend b /m);
      fs.rmSync(path.join(friendsDir, "c.yaml"));

      // A friend whose endpoint nothing listens on.
      const [closed] = await freePorts(1);
      const keysDir = path.join(scene.root, "gone-keys");
      const gone = await f2bp2p([
        "keygen",
        "--name",
        "gone",
        "--endpoint",
        `tcp://127.0.0.1:${closed}`,
        "--keys-dir",
        keysDir,
      ]);
      assert.equal(gone.code, 0, gone.stderr);
      fs.writeFileSync(path.join(friendsDir, "gone.yaml"), gone.stdout);
      const unreachable = await check();
      assert.equal(unreachable.code, 6, unreachable.stdout + unreachable.stderr);
      assert.match(
        unreachable.stdout,
        new RegExp(`^problem: friend gone \\(tcp://127\\.0\\.0\\.1:${closed}\\): cannot connect: `, "m"),
      );
      fs.rmSync(path.join(friendsDir, "gone.yaml"));

      // The node is down: `report` spools; the spool is not empty.
      await a!.stop();
      const spooled = await f2bp2p(["-c", a!.config, "report", "203.0.113.61", "--jail", "sshd"]);
      assert.equal(spooled.code, 0, spooled.stderr);
      const waiting = await check();
      assert.equal(waiting.code, 5, waiting.stdout + waiting.stderr);
      assert.match(waiting.stdout, /^warning: spool .* holds 1 report\(s\) the node has not taken in/m);
      assert.match(waiting.stdout, /^ok: friend b /m);

      // The f2bp2p jail stopped: nothing watches the bans log.
      await host.fail2ban.client("stop", "f2bp2p");
      const noJail = await check();
      assert.equal(noJail.code, 6, noJail.stdout + noJail.stderr);
      assert.match(
        noJail.stdout,
        /^problem: no running fail2ban jail watches the bans log .* \(running jails: none\)/m,
      );
    });
  });
});
