/**
 * End to end on loopback, two "hosts" each with a real fail2ban-server and a real `f2bp2p run`:
 * failed logins on host A → A's fail2ban bans → node A reports (by the f2bp2p action, or by
 * following fail2ban's log) → node B writes its bans log → B's fail2ban `f2bp2p` jail bans.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, it, type TestContext } from "node:test";
import { requireFail2ban } from "../helpers/fail2ban.js";
import { waitFor } from "../helpers/wait.js";
import {
  assertNoFail2banErrors,
  failedLogin,
  hasBanLine,
  printTimings,
  runNetwork,
  Scene,
  type Stage,
  startF2bp2pJailHost,
  startSshdHost,
  statusBannedList,
  statusCount,
  timeStages,
} from "./hosts.js";

type Path = "action" | "log-watch";

async function banTravelsFromAToB(t: TestContext, path: Path, attacker: string): Promise<void> {
  const scene = new Scene(t);
  await scene.run(t, async () => {
    // Host A's fail2ban log, which node A follows on the log-watch path.
    const fail2banLogA = `${scene.root}/a/f2b/fail2ban.log`;
    await runNetwork(scene, {
      nodes: [
        {
          name: "a",
          logLevel: "info",
          ...(path === "log-watch" ? { watch: { fail2banLog: fail2banLogA, jails: ["sshd"] } } : {}),
        },
        { name: "b", logLevel: "info" },
      ],
      links: [["a", "b", 80, 80]],
    });
    const nodeA = scene.node("a");
    const nodeB = scene.node("b");
    const hostA = await startSshdHost(scene, nodeA, { withF2bp2pAction: path === "action" });
    const hostB = await startF2bp2pJailHost(scene, nodeB);
    assert.equal(hostA.fail2ban.logFile, fail2banLogA);

    const actionsA = await hostA.fail2ban.client("get", "sshd", "actions");
    if (path === "action") assert.match(actionsA, /\bf2bp2p\b/);
    else assert.doesNotMatch(actionsA, /\bf2bp2p\b/);
    assert.deepEqual(await hostB.fail2ban.banned("f2bp2p"), []);

    // Two failures: counted by A's jail, below maxretry = 3, so nothing is banned yet.
    fs.appendFileSync(hostA.authLog, failedLogin(attacker) + failedLogin(attacker));
    await waitFor(
      async () => statusCount(await hostA.fail2ban.status("sshd"), "Total failed") === 2,
      10_000,
      "A's sshd jail to count two failures",
    );
    assert.deepEqual(await hostA.fail2ban.banned("sshd"), []);
    assert.equal(nodeA.bans(), "");

    // The third failure: from here on every stage is timed.
    // Each fail2ban stage twice: its log line (file polled every 10 ms, precise) and the client's view
    // (`get JAIL banned`, one fail2ban-client call of ~40 ms per poll, so seen up to a call late).
    const loggedBan = (fail2ban: typeof hostA.fail2ban, jail: string) => () =>
      fs.existsSync(fail2ban.logFile) &&
      fs.readFileSync(fail2ban.logFile, "utf8").includes(`[${jail}] Ban ${attacker}\n`);
    const stages: Stage[] = [
      { name: "A's fail2ban logs [sshd] Ban", reached: loggedBan(hostA.fail2ban, "sshd") },
      {
        name: "A's fail2ban: get sshd banned",
        reached: async () => (await hostA.fail2ban.banned("sshd")).includes(attacker),
      },
      { name: "node A acknowledged (A's bans log)", reached: () => hasBanLine(nodeA, attacker) },
      { name: "node B's bans log line", reached: () => hasBanLine(nodeB, attacker) },
      { name: "B's fail2ban logs [f2bp2p] Ban", reached: loggedBan(hostB.fail2ban, "f2bp2p") },
      {
        name: "B's fail2ban: get f2bp2p banned",
        reached: async () => (await hostB.fail2ban.banned("f2bp2p")).includes(attacker),
      },
    ];
    const t0 = performance.now();
    fs.appendFileSync(hostA.authLog, failedLogin(attacker));
    const times = await timeStages(t0, stages);
    printTimings(t, `${path} path`, stages, times);

    // Node A: its own report, counted in full; node B: relayed once, with the trust B gives A.
    const idA = (await nodeA.status()).id;
    assert.match(
      nodeA.bans(),
      new RegExp(`^\\S+Z BAN ${attacker.replaceAll(".", "\\.")} score=100 origin=${idA} hops=0\\n$`),
    );
    assert.match(
      nodeB.bans(),
      new RegExp(`^\\S+Z BAN ${attacker.replaceAll(".", "\\.")} score=80 origin=${idA} hops=1\\n$`),
    );
    assert.equal((await nodeA.status()).stats.localReports, 1);
    if (path === "log-watch")
      assert.match(
        nodeA.stderr(),
        new RegExp(`fail2ban ban reported ip=${attacker.replaceAll(".", "\\.")} jail=sshd`),
      );

    // B's fail2ban: exactly this IP, banned by its f2bp2p jail with the (dummy) ban action.
    const statusB = await hostB.fail2ban.status("f2bp2p");
    assert.deepEqual(statusBannedList(statusB), [attacker]);
    assert.equal(statusCount(statusB, "Total banned"), 1);
    assert.ok(statusB.includes(nodeB.bansLog), statusB);
    // Both jails banned with their real (dummy) ban action, not only in fail2ban's books.
    for (const [host, target] of [
      ["A", hostA.dummyTarget],
      ["B", hostB.dummyTarget],
    ] as const)
      await waitFor(
        () => fs.existsSync(target) && fs.readFileSync(target, "utf8").includes(`+${attacker}\n`),
        10_000,
        `${host}'s ban action to run`,
      );
    assertNoFail2banErrors(hostA.fail2ban);
    assertNoFail2banErrors(hostB.fail2ban);
  });
}

describe("e2e: a ban on host A reaches host B's fail2ban", () => {
  it("action path: A's sshd jail runs the shipped f2bp2p action (real `f2bp2p report`)", {
    timeout: 90_000,
  }, async (t) => {
    if (!(await requireFail2ban(t))) return;
    await banTravelsFromAToB(t, "action", "203.0.113.50");
  });

  it("log-watch path: node A follows A's fail2ban log and reports its [sshd] Ban line", {
    timeout: 90_000,
  }, async (t) => {
    if (!(await requireFail2ban(t))) return;
    await banTravelsFromAToB(t, "log-watch", "203.0.113.51");
  });
});
