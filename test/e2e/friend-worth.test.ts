/**
 * What each friend is worth, end to end: three real nodes in a line a — b — c on loopback; a reports
 * an attacker, c holds it through b; then c's own fail2ban (a real server with the shipped f2bp2p
 * action) bans the same attacker from failed logins: a confirmation of b at c, with a lead time.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, it } from "node:test";
import type { FriendWorthEntry, FriendWorthReport } from "../../src/node/friend-worth.js";
import { f2bp2p } from "../helpers/cli.js";
import { requireFail2ban } from "../helpers/fail2ban.js";
import { waitFor } from "../helpers/wait.js";
import {
  failedLogin,
  type RunningNode,
  reportWithCli,
  runNetwork,
  runNode,
  Scene,
  startSshdHost,
} from "./hosts.js";

const ATTACKER = "203.0.113.41";

async function worthOf(node: RunningNode, friend: string): Promise<FriendWorthEntry> {
  const status = (await node.status()) as unknown as { worth: FriendWorthReport };
  const entry = status.worth.friends.find((f) => f.name === friend);
  assert.ok(entry, `no worth entry for ${friend} at ${node.name}: ${JSON.stringify(status.worth)}`);
  return entry;
}

describe("friend worth, three nodes", () => {
  it("a local jail's ban of an IP a friend brought is a confirmation, with its lead time", async (t) => {
    if (!(await requireFail2ban(t))) return;
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, {
        nodes: [{ name: "a" }, { name: "b" }, { name: "c" }],
        links: [
          ["a", "b", 80, 80],
          ["b", "c", 80, 80],
        ],
      });
      const [a, b, c] = ["a", "b", "c"].map((n) => scene.node(n));
      const hostC = await startSshdHost(scene, c!, { withF2bp2pAction: true });

      await reportWithCli(a!, ATTACKER, "sshd");
      // a's own report bans at b (trust 80 = threshold); at c it counts 64: held, not banned.
      await waitFor(async () => (await worthOf(c!, "b")).brought === 1, 15_000, "c to hold a's report via b");
      assert.equal(c!.bans(), "");
      const before = await worthOf(c!, "b");
      assert.deepEqual(
        [before.confirmed, before.leadSecondsMedian, before.bans],
        [0, null, 0],
        "nothing confirmed before c's own jail saw the attacker",
      );
      const atB = await worthOf(b!, "a");
      assert.deepEqual([atB.brought, atB.bans, atB.confirmed], [1, 1, 0]);

      // c's own fail2ban bans the attacker; its f2bp2p action reports it to c: the confirmation.
      fs.appendFileSync(hostC.authLog, failedLogin(ATTACKER).repeat(3));
      await waitFor(async () => (await worthOf(c!, "b")).confirmed === 1, 30_000, "c to confirm b's report");
      const after = await worthOf(c!, "b");
      assert.equal(after.brought, 1);
      assert.equal(after.confirmedShare, 1);
      assert.equal(after.leadSamples, 1);
      assert.ok(after.leadSecondsMedian !== null && after.leadSecondsMedian > 0, JSON.stringify(after));
      assert.equal(after.bans, 1, "b's contribution was in the score when c's own report banned");
      assert.deepEqual(after.rejected, {});
      assert.ok(c!.bans().includes(` BAN ${ATTACKER} `));

      const table = await f2bp2p(["-c", c!.config, "status", "--worth"]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^friend +id +brought +confirmed +share +lead median +bans +rejected$/m);
      assert.match(
        table.stdout,
        new RegExp(`^b +[0-9a-f]{12} +1 +1 +100% +${after.leadSecondsMedian} s +1 +0$`, "m"),
      );

      // Kept in the store: the same numbers after c restarts.
      await c!.stop();
      const again = await runNode("c", c!.config, scene.teardown);
      scene.nodes.set("c", again);
      assert.deepEqual(await worthOf(again, "b"), after);
    });
  });
});
