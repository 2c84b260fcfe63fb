import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { clockFinding, exitCodeFor, jailFinding } from "../../src/cli/doctor.js";
import {
  configuredJailsWatching,
  jailsWatching,
  parseJailList,
  parseLogpaths,
} from "../../src/fail2ban/jail-watch.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe("which fail2ban jail watches the bans log", () => {
  it("reads fail2ban-client's status and logpath answers", () => {
    assert.deepEqual(parseJailList("Status\n|- Number of jail:\t2\n`- Jail list:\tf2bp2p, sshd\n"), [
      "f2bp2p",
      "sshd",
    ]);
    assert.deepEqual(parseJailList("Status\n|- Number of jail:\t0\n`- Jail list:\t\n"), []);
    assert.deepEqual(
      parseLogpaths("Current monitored log file(s):\n|- /var/log/a.log\n`- /var/lib/f2bp2p/bans.log\n"),
      ["/var/log/a.log", "/var/lib/f2bp2p/bans.log"],
    );
  });

  it("falls back to the jail configuration when fail2ban-client is not installed", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-jails-"));
    dirs.push(dir);
    fs.mkdirSync(path.join(dir, "jail.d"));
    const bansLog = path.join(dir, "bans.log");
    fs.writeFileSync(
      path.join(dir, "jail.conf"),
      "[DEFAULT]\nenabled = false\n\n[sshd]\nlogpath = /var/log/auth.log\n",
    );
    fs.writeFileSync(
      path.join(dir, "jail.d", "f2bp2p.conf"),
      "[f2bp2p]\nenabled = true\nlogpath = /var/lib/f2bp2p/bans.log\n",
    );
    assert.deepEqual(configuredJailsWatching(dir, bansLog), []);
    // A .local overrides the shipped .conf, as in fail2ban.
    fs.writeFileSync(
      path.join(dir, "jail.d", "f2bp2p.local"),
      `[f2bp2p]\nlogpath = /var/log/other.log\n    ${bansLog}\n`,
    );
    assert.deepEqual(configuredJailsWatching(dir, bansLog), ["f2bp2p"]);
    const missing = Object.assign(new Error("spawn fail2ban-client ENOENT"), { code: "ENOENT" });
    const watch = await jailsWatching(bansLog, { configDir: dir, run: () => Promise.reject(missing) });
    assert.deepEqual(watch, {
      source: "config",
      why: "fail2ban-client is not installed",
      jails: ["f2bp2p"],
      configDir: dir,
    });
    assert.equal(jailFinding(bansLog, watch).severity, "warning");
    fs.writeFileSync(path.join(dir, "jail.d", "f2bp2p.local"), "[f2bp2p]\nenabled = false\n");
    const none = await jailsWatching(bansLog, { configDir: dir, run: () => Promise.reject(missing) });
    assert.match(jailFinding(bansLog, none).text, /no enabled jail in .* watches the bans log/);
  });

  it("exit status follows the worst finding; an unknown clock is a note", () => {
    const unknown = clockFinding({ state: "unknown" });
    assert.deepEqual(unknown, {
      severity: "note",
      text: "clock synchronisation: unknown (neither timedatectl nor adjtimex could tell)",
    });
    assert.equal(exitCodeFor([unknown, { severity: "ok", text: "" }]), 0);
    assert.equal(exitCodeFor([clockFinding({ state: "not-synchronised", source: "timedatectl" })]), 5);
    assert.equal(
      exitCodeFor([
        { severity: "warning", text: "" },
        { severity: "problem", text: "" },
      ]),
      6,
    );
  });
});
