/**
 * End to end, what must NOT reach host B's fail2ban: a report whose trust decayed below B's threshold
 * on its way, and an address on B's ignore list. A negative is proved without a fixed sleep: a control
 * report that does reach B is sent after the one under test, over the same links in the same order;
 * once B's fail2ban has banned the control IP, the first report has been handled by B too.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Fail2ban } from "../helpers/fail2ban.js";
import { requireFail2ban } from "../helpers/fail2ban.js";
import { waitFor } from "../helpers/wait.js";
import {
  assertNoFail2banErrors,
  hasBanLine,
  reportWithCli,
  runNetwork,
  Scene,
  startF2bp2pJailHost,
  statusBannedList,
  statusCount,
} from "./hosts.js";

/** The f2bp2p jail saw exactly one line and banned exactly `ip`, by both of fail2ban's accounts. */
async function assertOnlyBanned(fail2ban: Fail2ban, ip: string): Promise<void> {
  assert.deepEqual(await fail2ban.banned("f2bp2p"), [ip]);
  const status = await fail2ban.status("f2bp2p");
  assert.deepEqual(statusBannedList(status), [ip]);
  assert.equal(statusCount(status, "Total failed"), 1);
}

const IGNORED_RANGE = "198.51.100.0/24";

describe("e2e: what B's fail2ban must not ban", () => {
  it("below threshold: A—M—B with trust 80 gives 64 < 80 at B; a control report at M (80) is banned", {
    timeout: 90_000,
  }, async (t) => {
    if (!(await requireFail2ban(t))) return;
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, {
        nodes: [
          { name: "a", logLevel: "info" },
          { name: "m", logLevel: "info" },
          { name: "b", logLevel: "info", ignore: [IGNORED_RANGE] },
        ],
        links: [
          ["a", "m", 80, 80],
          ["m", "b", 80, 80],
        ],
      });
      const a = scene.node("a");
      const m = scene.node("m");
      const b = scene.node("b");
      const hostB = await startF2bp2pJailHost(scene, b);
      const weak = "203.0.113.60";
      const control = "203.0.113.61";

      assert.match(await reportWithCli(a, weak, "sshd"), /accepted, score 100, banned here/);
      // M trusts A 80: 80 reaches M's threshold. M writes its line before it passes the report on
      // (80 × 80 / 100 = 64 for B), so once the line is there the relay to B is queued.
      await waitFor(() => hasBanLine(m, weak), 10_000, "M's ban line for the weak report");
      const idA = (await a.status()).id;
      assert.match(m.bans(), new RegExp(` BAN 203\\.0\\.113\\.60 score=80 origin=${idA} hops=1\\n`));

      // Control: M's own report, 100 × 80 / 100 = 80 at B, queued on the same link after the first one.
      assert.match(await reportWithCli(m, control, "sshd"), /accepted, score 100, banned here/);
      await waitFor(
        async () => (await hostB.fail2ban.banned("f2bp2p")).includes(control),
        30_000,
        "B's fail2ban to ban the control IP",
      );

      const idM = (await m.status()).id;
      assert.match(b.bans(), new RegExp(`^\\S+Z BAN 203\\.0\\.113\\.61 score=80 origin=${idM} hops=1\\n$`));
      assert.equal(hasBanLine(b, weak), false);
      await assertOnlyBanned(hostB.fail2ban, control);
      // B did receive the weak report (two IPs known), it only stayed below the threshold.
      const nodeB = await b.status();
      assert.equal(nodeB.ips, 2);
      assert.equal(nodeB.stats.bans, 1);
      assertNoFail2banErrors(hostB.fail2ban);
    });
  });

  it(`ignore list: ${IGNORED_RANGE} on B is never written nor banned, even with full trust from A`, {
    timeout: 90_000,
  }, async (t) => {
    if (!(await requireFail2ban(t))) return;
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, {
        nodes: [
          { name: "a", logLevel: "info" },
          { name: "b", logLevel: "info", ignore: [IGNORED_RANGE] },
        ],
        links: [["a", "b", 100, 100]],
      });
      const a = scene.node("a");
      const b = scene.node("b");
      const hostB = await startF2bp2pJailHost(scene, b);
      const ignored = "198.51.100.77";
      const control = "203.0.113.62";

      // A does not ignore the range: its own report counts 100 and goes to B with trust 100.
      assert.match(await reportWithCli(a, ignored, "sshd"), /accepted, score 100, banned here/);
      assert.match(await reportWithCli(a, control, "sshd"), /accepted, score 100, banned here/);
      await waitFor(
        async () => (await hostB.fail2ban.banned("f2bp2p")).includes(control),
        30_000,
        "B's fail2ban to ban the control IP",
      );

      const idA = (await a.status()).id;
      assert.match(b.bans(), new RegExp(`^\\S+Z BAN 203\\.0\\.113\\.62 score=100 origin=${idA} hops=1\\n$`));
      assert.equal(hasBanLine(b, ignored), false);
      await assertOnlyBanned(hostB.fail2ban, control);
      // The score did reach B's threshold: it was the ignore list that kept the line out.
      await waitFor(
        () =>
          /score reached threshold but address is on the never-ban list ip=198\.51\.100\.77/.test(b.stderr()),
        10_000,
        "B's log of the ignored address",
      );
      assert.equal((await b.status()).stats.bans, 1);
      assertNoFail2banErrors(hostB.fail2ban);
    });
  });
});
