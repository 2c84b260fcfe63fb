import assert from "node:assert/strict";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Fail2banLogWatcher, type Fail2banLogWatcherOptions } from "../../src/ingest/fail2ban-log-watcher.js";
import { requireFail2ban, startFail2ban } from "../helpers/fail2ban.js";
import { waitFor } from "../helpers/wait.js";

let dir: string;
let logPath: string;
const watchers: Fail2banLogWatcher[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "f2bp2p-w-"));
  logPath = join(dir, "fail2ban.log");
});

afterEach(async () => {
  for (const w of watchers.splice(0)) await w.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Reported {
  readonly ip: string;
  readonly jail: string;
}

async function watchLog(opts: Partial<Fail2banLogWatcherOptions> = {}) {
  const bans: Reported[] = [];
  const errors: unknown[] = [];
  const unrecognised: string[] = [];
  const watcher = new Fail2banLogWatcher({
    onUnrecognised: (message) => unrecognised.push(message),
    path: logPath,
    positionFile: join(dir, "state", "fail2ban-log.pos.json"),
    jails: [],
    onBan: async (ip, jail) => {
      bans.push({ ip, jail });
    },
    onError: (err) => errors.push(err),
    ...opts,
  });
  watchers.push(watcher);
  await watcher.start();
  return { bans, errors, unrecognised, watcher };
}

const at = "2026-11-21 10:00:00,123";
const ban = (jail: string, ip: string) =>
  `${at} fail2ban.actions        [1234]: NOTICE  [${jail}] Ban ${ip}\n`;

describe("Fail2banLogWatcher (log lines written by the test)", () => {
  it("reports Ban lines of every jail but its own when the jail list is empty", async () => {
    await writeFile(logPath, ban("sshd", "192.0.2.200")); // history: not reported
    const { bans } = await watchLog();
    await appendFile(
      logPath,
      ban("sshd", "203.0.113.1") +
        ban("f2bp2p", "203.0.113.2") +
        ban("nginx-http-auth", "2001:DB8::3") +
        ban("sshd", "198.51.100.99"),
    );
    await waitFor(() => bans.some((b) => b.ip === "198.51.100.99"), 5000, "last ban");
    assert.deepEqual(bans, [
      { ip: "203.0.113.1", jail: "sshd" },
      { ip: "2001:db8::3", jail: "nginx-http-auth" },
      { ip: "198.51.100.99", jail: "sshd" },
    ]);
  });

  it("reports only the listed jails, never the own jail even when listed", async () => {
    await writeFile(logPath, "");
    const { bans } = await watchLog({ jails: ["sshd", "f2bp2p"], ownJail: "f2bp2p" });
    await appendFile(logPath, ban("nginx", "203.0.113.10") + ban("f2bp2p", "203.0.113.11"));
    await appendFile(logPath, ban("sshd", "203.0.113.12"));
    await waitFor(() => bans.length > 0, 5000, "a ban");
    await appendFile(logPath, ban("sshd", "203.0.113.13"));
    await waitFor(() => bans.some((b) => b.ip === "203.0.113.13"), 5000, "sentinel");
    assert.deepEqual(bans, [
      { ip: "203.0.113.12", jail: "sshd" },
      { ip: "203.0.113.13", jail: "sshd" },
    ]);
  });

  it("honours another ownJail name", async () => {
    await writeFile(logPath, "");
    const { bans } = await watchLog({ ownJail: "relay" });
    await appendFile(logPath, ban("relay", "203.0.113.20") + ban("f2bp2p", "203.0.113.21"));
    await waitFor(() => bans.length > 0, 5000, "a ban");
    assert.deepEqual(bans, [{ ip: "203.0.113.21", jail: "f2bp2p" }]);
  });

  it("ignores Restore Ban, Unban, Found and already banned", async () => {
    await writeFile(logPath, "");
    const { bans } = await watchLog();
    await appendFile(
      logPath,
      [
        `${at} fail2ban.actions        [1234]: NOTICE  [sshd] Restore Ban 203.0.113.30`,
        `${at} fail2ban.actions        [1234]: NOTICE  [sshd] Unban 203.0.113.31`,
        `${at} fail2ban.filter         [1234]: INFO    [sshd] Found 203.0.113.32 - 2026-11-21 10:00:00`,
        `${at} fail2ban.actions        [1234]: NOTICE  [sshd] 203.0.113.33 already banned`,
        "",
      ].join("\n"),
    );
    await appendFile(logPath, ban("sshd", "203.0.113.34"));
    await waitFor(() => bans.length > 0, 5000, "sentinel ban");
    assert.deepEqual(bans, [{ ip: "203.0.113.34", jail: "sshd" }]);
  });

  it("a failing onBan makes the bans come again (at least once), not lost, counted once", async () => {
    await writeFile(logPath, "");
    const failOnce = new Set(["203.0.113.40", "203.0.113.41"]);
    const got: string[] = [];
    const { watcher } = await watchLog({
      pollIntervalMs: 50,
      onBan: async (ip) => {
        got.push(ip);
        if (failOnce.delete(ip)) throw new Error("node down");
      },
    });
    await appendFile(logPath, ban("sshd", "203.0.113.40"));
    await waitFor(() => got.length >= 2, 5000, "retry");
    assert.deepEqual(got, ["203.0.113.40", "203.0.113.40"]);
    // A batch failing on its second line's ban: its lines are counted once, its ban once reported.
    await appendFile(logPath, `${ban("sshd", "198.51.100.40")}${ban("sshd", "203.0.113.41")}`);
    await waitFor(
      () => got.filter((ip) => ip === "203.0.113.41").length === 2,
      5000,
      "retry of the second batch",
    );
    assert.equal(watcher.status().linesRead, 3);
    assert.equal(watcher.status().bansReported, 3);
  });
});

describe("Fail2banLogWatcher never stays silent about a file it cannot read", () => {
  it("logtarget = SYSLOG: the syslog form of a ban is reported", async () => {
    await writeFile(logPath, "");
    const { bans, unrecognised, watcher } = await watchLog();
    await appendFile(
      logPath,
      "Nov 30 12:00:00 host fail2ban.actions[1234]: NOTICE  [sshd] Ban 203.0.113.61\n",
    );
    await waitFor(() => bans.length === 1, 5000, "syslog ban");
    assert.deepEqual(bans, [{ ip: "203.0.113.61", jail: "sshd" }]);
    assert.deepEqual(unrecognised, []);
    assert.equal(watcher.status().format, "fail2ban");
  });

  it("says at start, and in status, that the file is in a form it does not read", async () => {
    const other = Array.from(
      { length: 30 },
      (_, i) => `12:00:${String(i).padStart(2, "0")} myapp: request ${i}\n`,
    );
    await writeFile(logPath, other.join(""));
    const { bans, unrecognised, watcher } = await watchLog();
    assert.equal(unrecognised.length, 1);
    assert.match(
      unrecognised[0]!,
      /none of its last 30 lines is a fail2ban log line in a form log-watch reads/,
    );
    assert.equal(watcher.status().format, "unrecognised");
    assert.match(watcher.status().warning ?? "", /bans in it will not be reported/);
    // A recognisable line clears the warning.
    await appendFile(logPath, `${at} fail2ban.actions        [1234]: NOTICE  [sshd] Ban 203.0.113.64\n`);
    await waitFor(() => bans.length === 1, 5000, "ban");
    assert.equal(watcher.status().format, "fail2ban");
    assert.equal(watcher.status().warning, undefined);
  });

  it("a Ban line with an address it cannot read is reported as a problem, with the line", async () => {
    await writeFile(logPath, "");
    const { bans, errors } = await watchLog();
    await appendFile(logPath, ban("sshd", "host.example") + ban("sshd", "203.0.113.65"));
    await waitFor(() => bans.length === 1, 5000, "the good ban");
    assert.deepEqual(bans, [{ ip: "203.0.113.65", jail: "sshd" }]);
    assert.equal(errors.length, 1);
    assert.match(
      String(errors[0]),
      /ban line not reported, not an IPv4 or IPv6 address: "host\.example": .*\[sshd\] Ban host\.example/,
    );
  });

  it("warns once when the file grows by 100 lines and none is recognisable", async () => {
    await writeFile(logPath, "");
    const { unrecognised, watcher } = await watchLog();
    assert.equal(watcher.status().format, "unknown");
    const lines = Array.from({ length: 250 }, (_, i) => `2026-11-30T12:00:00Z host app[1]: line ${i}\n`);
    await appendFile(logPath, lines.join(""));
    await waitFor(() => watcher.status().linesRead === 250, 5000, "250 lines read");
    assert.equal(unrecognised.length, 1);
    assert.match(unrecognised[0]!, /100 new lines and none is a fail2ban log line/);
    assert.deepEqual(
      { ...watcher.status(), warning: undefined },
      {
        file: logPath,
        format: "unrecognised",
        linesRead: 250,
        unrecognisedInARow: 250,
        bansReported: 0,
        warning: undefined,
      },
    );
  });
});

/** fail2ban-server is the real thing here; without it the test fails on CI and is skipped elsewhere. */
describe("Fail2banLogWatcher with a real fail2ban-server", () => {
  it("reports real Ban lines, not Restore Ban after a restart, not the f2bp2p jail", async (t) => {
    if (!(await requireFail2ban(t))) {
      await rm(dir, { recursive: true, force: true }); // afterEach does not run for a skipped test
      return;
    }
    await writeFile(join(dir, "in.log"), "");
    const jail = {
      enabled: true,
      filter: "t",
      backend: "polling",
      logpath: join(dir, "in.log"),
      action: "noop",
    };

    // Started before fail2ban creates its log (dir/fail2ban.log): the new file is read from its start.
    const { bans, errors } = await watchLog({ jails: ["sshd", "f2bp2p"] });
    const server = await startFail2ban({
      dir,
      jails: { sshd: jail, nginx: jail, f2bp2p: jail },
      filters: { t: "[Definition]\nfailregex = ^FAIL <ADDR>$\n" },
      actions: { noop: "[Definition]\nactionban = true\nactionunban = true\n" },
    });
    assert.equal(server.logFile, logPath);
    try {
      await server.client("set", "sshd", "banip", "203.0.113.60");
      await server.client("set", "nginx", "banip", "203.0.113.61");
      await server.client("set", "f2bp2p", "banip", "203.0.113.62");
      await server.client("set", "sshd", "banip", "2001:db8::63");
      await waitFor(() => bans.length >= 2, 10_000, "two sshd bans");
      // Same database: the bans come back as "Restore Ban", which must not be reported again.
      await server.restart();
      await waitFor(
        async () => (await server.banned("sshd")).includes("203.0.113.60"),
        10_000,
        "restored ban",
      );
      await server.client("set", "sshd", "banip", "198.51.100.64");
      await waitFor(() => bans.some((b) => b.ip === "198.51.100.64"), 10_000, "ban after restart");
    } finally {
      await server.stop();
    }
    assert.deepEqual(bans, [
      { ip: "203.0.113.60", jail: "sshd" },
      { ip: "2001:db8::63", jail: "sshd" },
      { ip: "198.51.100.64", jail: "sshd" },
    ]);
    assert.deepEqual(errors, []);
  });
});

describe("Fail2banLogWatcher with a real fail2ban-server and a jail named after a virtual host", () => {
  it("reports the ban of a jail whose name is longer than a wire label", async (t) => {
    if (!(await requireFail2ban(t))) {
      await rm(dir, { recursive: true, force: true });
      return;
    }
    await writeFile(join(dir, "in.log"), "");
    const long = "shop1.customer-example-site.com-cc";
    const { bans, errors, unrecognised } = await watchLog({ jails: [long] });
    const server = await startFail2ban({
      dir,
      jails: {
        [long]: {
          enabled: true,
          filter: "t",
          backend: "polling",
          logpath: join(dir, "in.log"),
          action: "noop",
        },
      },
      filters: { t: "[Definition]\nfailregex = ^FAIL <ADDR>$\n" },
      actions: { noop: "[Definition]\nactionban = true\nactionunban = true\n" },
    });
    try {
      await server.client("set", long, "banip", "203.0.113.60");
      await waitFor(() => bans.length >= 1, 10_000, "ban of the long-named jail");
    } finally {
      await server.stop();
    }
    assert.deepEqual(bans, [{ ip: "203.0.113.60", jail: long }]);
    assert.deepEqual(errors, []);
    assert.deepEqual(unrecognised, []);
  });
});
