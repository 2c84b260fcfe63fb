import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classifyFail2banLine, isReportedJail, parseFail2banBan } from "../../src/ingest/fail2ban-log.js";

// Lines copied from the log of a real fail2ban 1.0.2 server (Debian 12), run in a temp dir.
const REAL = {
  ban4: "2026-11-21 08:06:19,314 fail2ban.actions        [3574]: NOTICE  [sshd] Ban 203.0.113.50",
  ban6: "2026-11-21 08:06:19,458 fail2ban.actions        [3574]: NOTICE  [sshd] Ban 2001:db8::50",
  banOwn: "2026-11-21 08:06:19,399 fail2ban.actions        [3574]: NOTICE  [f2bp2p] Ban 203.0.113.51",
  restore: "2026-11-21 08:06:21,510 fail2ban.actions        [3596]: NOTICE  [sshd] Restore Ban 203.0.113.50",
  already:
    "2026-11-21 08:06:22,886 fail2ban.actions        [3596]: NOTICE  [sshd] 203.0.113.50 already banned",
  unban: "2026-11-21 08:06:22,953 fail2ban.actions        [3596]: NOTICE  [sshd] Unban 203.0.113.50",
  found:
    "2026-11-21 08:08:50,002 fail2ban.filter         [4433]: INFO    [sshd] Found 2001:db8::77 - 2026-11-21 08:08:49",
  flush: "2026-11-21 08:08:52,504 fail2ban.actions        [4433]: NOTICE  [sshd] Flush ticket(s) with dummy",
  started: "2026-11-21 08:06:18,714 fail2ban.jail           [3574]: INFO    Jail 'sshd' started",
};

describe("parseFail2banBan", () => {
  it("recognises a real IPv4 Ban line", () => {
    assert.deepEqual(parseFail2banBan(REAL.ban4), { jail: "sshd", ip: "203.0.113.50" });
  });

  it("recognises a real IPv6 Ban line", () => {
    assert.deepEqual(parseFail2banBan(REAL.ban6), { jail: "sshd", ip: "2001:db8::50" });
  });

  it("parses the f2bp2p jail too (filtering is the watcher's job)", () => {
    assert.deepEqual(parseFail2banBan(REAL.banOwn), { jail: "f2bp2p", ip: "203.0.113.51" });
  });

  it("ignores Restore Ban, already banned, Unban, Found, Flush and other lines", () => {
    for (const key of ["restore", "already", "unban", "found", "flush", "started"] as const) {
      assert.equal(parseFail2banBan(REAL[key]), null, key);
    }
  });

  it("normalises the address with node's parser", () => {
    const line =
      "2026-11-21 10:00:00,123 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 2001:DB8:0:0::0A";
    assert.deepEqual(parseFail2banBan(line), { jail: "sshd", ip: "2001:db8::a" });
    const mapped =
      "2026-11-21 10:00:00,123 fail2ban.actions        [1234]: NOTICE  [sshd] Ban ::ffff:192.0.2.9";
    assert.deepEqual(parseFail2banBan(mapped), { jail: "sshd", ip: "192.0.2.9" });
  });

  it("accepts a trailing CR or LF, no padding, and no time (syslog-style targets)", () => {
    assert.deepEqual(parseFail2banBan(`${REAL.ban4}\n`), { jail: "sshd", ip: "203.0.113.50" });
    assert.deepEqual(parseFail2banBan(`${REAL.ban4}\r`), { jail: "sshd", ip: "203.0.113.50" });
    assert.deepEqual(parseFail2banBan("fail2ban.actions[7]: NOTICE [nginx-http-auth] Ban 198.51.100.4"), {
      jail: "nginx-http-auth",
      ip: "198.51.100.4",
    });
    // fail2ban 0.9 logged bans at WARNING
    assert.deepEqual(
      parseFail2banBan("2016-01-01 10:00:00,123 fail2ban.actions        [99]: WARNING [sshd] Ban 192.0.2.1"),
      { jail: "sshd", ip: "192.0.2.1" },
    );
  });

  it("rejects invalid addresses, hostnames, CIDRs and anything after the address", () => {
    const prefix = "2026-11-21 10:00:00,123 fail2ban.actions        [1234]: NOTICE  [sshd] Ban ";
    for (const bad of [
      "203.0.113.256",
      "203.0.113",
      "203.0.113.050",
      "example.com",
      "192.0.2.0/24",
      "fe80::1%eth0",
      "2001:db8:::1",
      "203.0.113.5 extra",
      "",
    ]) {
      assert.equal(parseFail2banBan(prefix + bad), null, bad);
    }
  });

  it("rejects lines from other loggers, odd jail names, and text before the line", () => {
    assert.equal(
      parseFail2banBan("2026-11-21 10:00:00,123 fail2ban.filter         [1]: NOTICE  [sshd] Ban 192.0.2.1"),
      null,
    );
    assert.equal(
      parseFail2banBan("2026-11-21 10:00:00,123 fail2ban.actions        [1]: NOTICE  [ss hd] Ban 192.0.2.1"),
      null,
    );
    assert.equal(
      parseFail2banBan(
        `2026-11-21 10:00:00,123 fail2ban.actions        [1]: NOTICE  [${"j".repeat(257)}] Ban 192.0.2.1`,
      ),
      null,
    );
    assert.equal(parseFail2banBan(`user root: ${REAL.ban4}`), null);
    assert.equal(parseFail2banBan(""), null);
    assert.equal(parseFail2banBan("x".repeat(100_000)), null);
  });
});

describe("isReportedJail", () => {
  it("never reports the own jail, reports all others when the list is empty", () => {
    assert.equal(isReportedJail("f2bp2p", [], "f2bp2p"), false);
    assert.equal(isReportedJail("sshd", [], "f2bp2p"), true);
  });

  it("reports only listed jails, and never the own jail even if listed", () => {
    assert.equal(isReportedJail("sshd", ["sshd"], "f2bp2p"), true);
    assert.equal(isReportedJail("nginx", ["sshd"], "f2bp2p"), false);
    assert.equal(isReportedJail("f2bp2p", ["f2bp2p", "sshd"], "f2bp2p"), false);
  });
});

describe("every form fail2ban writes its log in", () => {
  const want = (jail: string, ip: string) => ({ kind: "ban", ban: { jail, ip } });

  it("a jail named after a virtual host, longer than a wire label, is still a ban", () => {
    const line =
      "2026-11-30 12:00:00,000 fail2ban.actions        [1234]: NOTICE  [shop1.customer-example-site.com-cc] Ban 203.0.113.60";
    assert.deepEqual(classifyFail2banLine(line), want("shop1.customer-example-site.com-cc", "203.0.113.60"));
  });

  it("logtarget = SYSLOG, as a syslog daemon writes it (traditional and RFC 3339 time)", () => {
    assert.deepEqual(
      classifyFail2banLine("Nov 30 12:00:00 host fail2ban.actions[1234]: NOTICE  [sshd] Ban 203.0.113.61"),
      want("sshd", "203.0.113.61"),
    );
    assert.deepEqual(
      classifyFail2banLine("Dec  1 02:03:04 web-1 fail2ban.actions[99]: NOTICE [sshd] Ban 2001:db8::61"),
      want("sshd", "2001:db8::61"),
    );
    assert.deepEqual(
      classifyFail2banLine(
        "2026-11-30T12:00:00.123456+00:00 host fail2ban.actions[1234]: NOTICE [nginx] Ban 198.51.100.61",
      ),
      want("nginx", "198.51.100.61"),
    );
  });

  it("logtarget = SYSTEMD-JOURNAL, as journalctl and rsyslog print it", () => {
    assert.deepEqual(
      classifyFail2banLine("Nov 30 12:00:00 host fail2ban[1234]: [sshd] Ban 203.0.113.62"),
      want("sshd", "203.0.113.62"),
    );
    assert.deepEqual(
      classifyFail2banLine("2026-11-30T12:00:00+0000 host fail2ban[1234]: [sshd] Ban 203.0.113.62"),
      want("sshd", "203.0.113.62"),
    );
    assert.deepEqual(
      classifyFail2banLine("Nov 30 12:00:00 host fail2ban[1234]: [sshd] Restore Ban 203.0.113.62"),
      {
        kind: "fail2ban",
      },
    );
  });

  it("logtarget = STDOUT under systemd, as the service's output in the journal", () => {
    assert.deepEqual(
      classifyFail2banLine(
        "Nov 30 12:00:00 host fail2ban-server[1234]: fail2ban.actions        [1234]: NOTICE  [sshd] Ban 203.0.113.63",
      ),
      want("sshd", "203.0.113.63"),
    );
    assert.deepEqual(
      classifyFail2banLine(
        "Nov 30 12:00:00 host fail2ban-server[1234]: 2026-11-30 12:00:00,000 fail2ban.actions [1234]: NOTICE [sshd] Ban 203.0.113.63",
      ),
      want("sshd", "203.0.113.63"),
    );
  });

  it("other fail2ban lines are recognised as fail2ban's, other programs' lines are not", () => {
    for (const line of Object.values(REAL).filter((l) => !l.includes("] Ban "))) {
      assert.deepEqual(classifyFail2banLine(line), { kind: "fail2ban" }, line);
    }
    assert.deepEqual(
      classifyFail2banLine("Nov 30 12:00:00 host fail2ban.filter[1]: INFO [sshd] Found 192.0.2.1"),
      {
        kind: "fail2ban",
      },
    );
    for (const line of [
      "Nov 30 12:00:00 host sshd[77]: Invalid user fail2ban.actions[1]: NOTICE [sshd] Ban 192.0.2.1",
      "Nov 30 12:00:00 host sshd[77]: Failed password for root from 192.0.2.1 port 22 ssh2",
      "Nov 30 12:00:00 host kernel: fail2ban[1]: [sshd] Ban 192.0.2.1",
      "some application log line",
      "12:00:00 fail2ban.actions: [sshd] Ban 192.0.2.1",
    ]) {
      assert.deepEqual(classifyFail2banLine(line), { kind: "other" }, line);
    }
  });
});

describe("a Ban line f2bp2p cannot read is said, not dropped silently", () => {
  it("an address that is not one, or a jail name over 256 characters", () => {
    const prefix = "2026-11-21 10:00:00,123 fail2ban.actions        [1234]: NOTICE  ";
    assert.deepEqual(classifyFail2banLine(`${prefix}[sshd] Ban 203.0.113.256`), {
      kind: "unreadable-ban",
      reason: 'not an IPv4 or IPv6 address: "203.0.113.256"',
    });
    assert.deepEqual(classifyFail2banLine(`${prefix}[${"j".repeat(257)}] Ban 203.0.113.9`), {
      kind: "unreadable-ban",
      reason: "jail name over 256 characters",
    });
  });
});
