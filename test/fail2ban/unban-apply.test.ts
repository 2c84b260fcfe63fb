/**
 * `f2bp2p unban-apply`: the bans log's UNBAN lines become unbans in a real fail2ban-server's f2bp2p
 * jail (the shipped filter and jail), each once, from a read position that survives runs, failures
 * and logrotate's rename.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { applyUnbans } from "../../src/fail2ban/unban-apply.js";
import { parseBansLogLine, UnbanCollector } from "../../src/fail2ban/unban-lines.js";
import { formatBanLine, formatUnbanLine } from "../../src/node/ban-line.js";
import { f2bp2p } from "../helpers/cli.js";
import { repoFail2banFile, requireFail2ban, startFail2ban } from "../helpers/fail2ban.js";
import { waitFor } from "../helpers/wait.js";

const ban = (ip: string): string =>
  formatBanLine({ at: new Date(), ip, score: 80, origin: "3fa2c1d09b7e", hops: 1 });
const unban = (ip: string, reason = "ignore-list"): string => formatUnbanLine({ at: new Date(), ip, reason });

function tempDir(): string {
  // Short: fail2ban's socket lives below it.
  return fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-ua-"));
}

describe("bans log lines for unban-apply", () => {
  it("reads the node's BAN and UNBAN lines and nothing else", () => {
    assert.deepEqual(parseBansLogLine(ban("203.0.113.7").trimEnd()), { kind: "ban", ip: "203.0.113.7" });
    assert.deepEqual(parseBansLogLine(unban("2001:db8::7", "revoked").trimEnd()), {
      kind: "unban",
      ip: "2001:db8::7",
      reason: "revoked",
    });
    for (const line of [
      "",
      "garbage",
      unban("203.0.113.7").trimEnd().replace(/^\S+ /, ""),
      unban("203.0.113.7").trimEnd().replace("reason=ignore-list", "reason=Bad Reason"),
      `${unban("203.0.113.7").trimEnd()} extra`,
      unban("203.0.113.999").trimEnd(),
      unban("2001:DB8::7").trimEnd().replace("2001:db8::7", "2001:DB8::7"),
      unban("attacker.example.com").trimEnd(),
    ])
      assert.equal(parseBansLogLine(line), undefined, line);
  });

  it("an UNBAN followed by a BAN of the same address is not applied; the last UNBAN of each counts", () => {
    const c = new UnbanCollector<number>();
    const lines = [
      unban("203.0.113.1"),
      unban("203.0.113.2"),
      ban("203.0.113.1"),
      unban("203.0.113.2", "revoked"),
      unban("203.0.113.3"),
    ];
    lines.forEach((l, i) => {
      c.add(parseBansLogLine(l.trimEnd())!, i);
    });
    assert.deepEqual(c.result(), [
      { ip: "203.0.113.2", reason: "revoked", where: 3 },
      { ip: "203.0.113.3", reason: "ignore-list", where: 4 },
    ]);
  });
});

describe("applyUnbans read position", () => {
  it("applies each line once across runs, resumes at a failed unban, follows a rename to .1", async () => {
    const dir = tempDir();
    try {
      const log = path.join(dir, "bans.log");
      const position = path.join(dir, "unban", "position.json");
      const calls: string[] = [];
      let failing: string | undefined;
      const unbanIp = async (ip: string) => {
        if (ip === failing) throw new Error("fail2ban is not running");
        calls.push(ip);
        return "unbanned" as const;
      };
      const runOnce = () => applyUnbans({ bansLog: log, positionFile: position, unban: unbanIp });

      assert.deepEqual((await runOnce()).applied, [], "no bans log yet: nothing, and no error");
      fs.writeFileSync(log, ban("203.0.113.1") + ban("203.0.113.2") + unban("203.0.113.1"));
      const first = await runOnce();
      assert.equal(first.fromStart, true);
      assert.deepEqual(calls, ["203.0.113.1"]);
      assert.deepEqual((await runOnce()).applied, [], "nothing new: nothing repeated");

      fs.appendFileSync(log, unban("203.0.113.2") + unban("203.0.113.3"));
      failing = "203.0.113.2";
      const failed = await runOnce();
      assert.equal(failed.failed?.ip, "203.0.113.2");
      assert.deepEqual(calls, ["203.0.113.1"]);
      failing = undefined;
      const resumed = await runOnce();
      assert.equal(resumed.fromStart, false);
      assert.deepEqual(calls, ["203.0.113.1", "203.0.113.2", "203.0.113.3"], "resumed at the failed line");

      // logrotate: a line lands in the old file after the last run, then the file is renamed.
      fs.appendFileSync(log, unban("203.0.113.4"));
      fs.renameSync(log, `${log}.1`);
      fs.writeFileSync(log, `${unban("203.0.113.5")}a partial line without its newline`);
      const rotated = await runOnce();
      assert.equal(rotated.fromStart, false);
      assert.deepEqual(calls.slice(3), ["203.0.113.4", "203.0.113.5"]);
      fs.appendFileSync(log, `\n${unban("203.0.113.6")}`);
      await runOnce();
      assert.deepEqual(calls.slice(5), ["203.0.113.6"], "the partial line was waited for, then skipped");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("f2bp2p unban-apply with fail2ban", () => {
  it("lifts the bans of UNBAN lines from the f2bp2p jail, once; keeps a re-ban; retries when fail2ban was down", async (t) => {
    if (!(await requireFail2ban(t))) return;
    const dir = tempDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const log = path.join(dir, "bans.log");
    fs.writeFileSync(log, "");
    const fail2ban = await startFail2ban({
      dir: path.join(dir, "f2b"),
      jails: { DEFAULT: { banaction: "", action: "" } },
      filters: { f2bp2p: repoFail2banFile("filter.d/f2bp2p.conf") },
      files: {
        "jail.d/f2bp2p.conf": repoFail2banFile("jail.d/f2bp2p.conf"),
        "jail.d/f2bp2p.local": `[f2bp2p]\nlogpath = ${log}\n`,
      },
    });
    t.after(() => fail2ban.stop());
    const apply = () =>
      f2bp2p([
        "unban-apply",
        "--bans-log",
        log,
        "--position",
        path.join(dir, "position.json"),
        "--fail2ban-socket",
        fail2ban.socket,
      ]);
    const banned = () => fail2ban.banned("f2bp2p");

    fs.appendFileSync(log, ban("203.0.113.10") + ban("203.0.113.11") + ban("2001:db8::12"));
    await waitFor(async () => (await banned()).length === 3, 15_000, "three bans in the f2bp2p jail");

    fs.appendFileSync(log, unban("203.0.113.10") + unban("2001:db8::12", "revoked"));
    const first = await apply();
    assert.equal(first.code, 0, first.stderr);
    assert.equal(
      first.stdout,
      "203.0.113.10: unbanned in jail f2bp2p (reason=ignore-list)\n2001:db8::12: unbanned in jail f2bp2p (reason=revoked)\n",
    );
    assert.deepEqual(await banned(), ["203.0.113.11"]);
    assert.match(await fail2ban.status("f2bp2p"), /Banned IP list:\s*203\.0\.113\.11\s*$/m);
    const again = await apply();
    assert.deepEqual([again.code, again.stdout], [0, ""], "nothing applied twice");

    // Lifted, then banned again by a later line: the later BAN stands.
    fs.appendFileSync(log, unban("203.0.113.10") + ban("203.0.113.10"));
    await waitFor(async () => (await banned()).includes("203.0.113.10"), 15_000, "the re-ban");
    assert.deepEqual([(await apply()).stdout], [""]);
    assert.deepEqual((await banned()).sort(), ["203.0.113.10", "203.0.113.11"]);

    // fail2ban down: exit 1, the line stays to be applied by the next run.
    await fail2ban.stop();
    fs.appendFileSync(log, unban("203.0.113.10"));
    const down = await apply();
    assert.equal(down.code, 1);
    assert.match(down.stderr, /203\.0\.113\.10 not unbanned: .*the next run tries again from there/);
    await fail2ban.restart();
    await waitFor(async () => (await banned()).length === 2, 15_000, "bans restored at fail2ban's restart");
    const retried = await apply();
    assert.deepEqual(
      [retried.code, retried.stdout],
      [0, "203.0.113.10: unbanned in jail f2bp2p (reason=ignore-list)\n"],
    );
    assert.deepEqual(await banned(), ["203.0.113.11"]);
  });
});
