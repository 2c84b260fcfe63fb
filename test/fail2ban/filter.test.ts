import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type BanLine, formatBanLine, formatUnbanLine } from "../../src/node/ban-line.js";

const run = promisify(execFile);

// dist/test/fail2ban/filter.test.js -> repository root
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const FILTER = join(ROOT, "fail2ban", "filter.d", "f2bp2p.conf");

const BANS: BanLine[] = [
  { at: new Date("2026-11-21T10:00:00.123Z"), ip: "203.0.113.7", score: 80, origin: "3fa2c1d09b7e", hops: 2 },
  { at: new Date("2026-11-21T10:00:01.000Z"), ip: "192.0.2.1", score: 100, origin: "3fa2c1d09b7e", hops: 0 },
  {
    at: new Date("2026-11-21T23:59:59.999Z"),
    ip: "198.51.100.254",
    score: 95,
    origin: "00aa11bb22cc",
    hops: 6,
  },
  {
    at: new Date("2026-11-21T10:00:00.123Z"),
    ip: "2001:db8::7",
    score: 100,
    origin: "3fa2c1d09b7e",
    hops: 0,
  },
  {
    at: new Date("2026-11-22T00:00:00.000Z"),
    ip: "2001:db8:1:2:3:4:5:6",
    score: 81,
    origin: "ffffffffffff",
    hops: 1,
  },
  // In the past (and in winter): fail2ban must read it as UTC whatever the local zone.
  {
    at: new Date("2020-01-02T03:04:05.678Z"),
    ip: "2001:db8::ffff:c000:201",
    score: 90,
    origin: "0123456789ab",
    hops: 3,
  },
];

/** Lines that must never match: fail2ban would ban something it should not. */
function nonMatching(): string[] {
  const good = formatBanLine(BANS[0]!).trimEnd();
  return [
    "garbage",
    "2026-11-21T10:00:00.123Z",
    "2026-11-21T10:00:00.123Z BAN",
    good.replace(" BAN ", " UNBAN "),
    // What the node writes when it lifts a ban (node/ban-line.ts), IPv4 and IPv6:
    formatUnbanLine({ at: BANS[0]!.at, ip: "203.0.113.7", reason: "ignore-list" }).trimEnd(),
    formatUnbanLine({ at: BANS[0]!.at, ip: "2001:db8::7", reason: "revoked" }).trimEnd(),
    formatBanLine({ ...BANS[0]!, ip: "attacker.example.com" }).trimEnd(),
    formatBanLine({ ...BANS[0]!, ip: "203.0.113.7.example.net" }).trimEnd(),
    // Garbled addresses that fail2ban's own <ADDR> would take:
    formatBanLine({ ...BANS[0]!, ip: "203.0.113.999" }).trimEnd(),
    formatBanLine({ ...BANS[0]!, ip: "198.51.100.07" }).trimEnd(),
    formatBanLine({ ...BANS[0]!, ip: "2001:db8:::7" }).trimEnd(),
    formatBanLine({ ...BANS[0]!, ip: "2001:db8::1::7" }).trimEnd(),
    formatBanLine({ ...BANS[0]!, ip: "[2001:db8::7]" }).trimEnd(),
    good.replace(/^\S+ /, ""), // the timestamp is missing
    good.replace(/^\S+ /, "yesterday "), // the timestamp is garbled
    good.replace("Z BAN", " BAN"), // no time zone
    `${good} extra=1`, // anything after the line
    good.replace(" score=80", ""), // a field missing
    `x ${good}`, // text before the timestamp
    `: ${good}`,
  ];
}

async function fail2banRegexInstalled(): Promise<boolean> {
  try {
    await run("fail2ban-regex", ["--version"]);
    return true;
  } catch {
    return false;
  }
}

/** Skips (or fails on CI) when fail2ban is not installed; true when the test may go on. */
async function needFail2ban(t: TestContext): Promise<boolean> {
  if (await fail2banRegexInstalled()) return true;
  if (process.env.CI) assert.fail("fail2ban-regex not found: install fail2ban (apt-get install fail2ban)");
  t.skip("fail2ban not installed");
  return false;
}

describe("fail2ban/filter.d/f2bp2p.conf with the real fail2ban-regex", () => {
  let dir: string;
  let sample: string;
  const bad = nonMatching();

  before(async () => {
    await access(FILTER);
    dir = await mkdtemp(join(tmpdir(), "f2bp2p-filter-"));
    sample = join(dir, "bans.log");
    // Bad lines between the good ones, so a date carried over from a good line cannot help them.
    const lines: string[] = [];
    for (const [i, ban] of BANS.entries()) {
      lines.push(formatBanLine(ban));
      for (const b of bad.filter((_, j) => j % BANS.length === i)) lines.push(`${b}\n`);
    }
    await writeFile(sample, lines.join(""));
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("matches exactly the BAN lines and misses every other line", async (t) => {
    if (!(await needFail2ban(t))) return;
    const { stdout } = await run("fail2ban-regex", [
      "--print-all-matched",
      "--print-all-missed",
      sample,
      FILTER,
    ]);
    const m = /Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed/.exec(stdout);
    assert.ok(m, `no summary in fail2ban-regex output:\n${stdout}`);
    assert.deepEqual(
      { lines: Number(m[1]), ignored: Number(m[2]), matched: Number(m[3]), missed: Number(m[4]) },
      { lines: BANS.length + bad.length, ignored: 0, matched: BANS.length, missed: bad.length },
      stdout,
    );
  });

  it("extracts exactly the expected addresses, in order, with the UTC time of each line", async (t) => {
    if (!(await needFail2ban(t))) return;
    // A local zone far from UTC: the "Z" in the line must win over it.
    for (const tz of ["America/New_York", "Asia/Kolkata"]) {
      const { stdout } = await run("fail2ban-regex", ["-o", "row", sample, FILTER], {
        env: { ...process.env, TZ: tz },
      });
      // One row per match: ['203.0.113.7',\t1795255200,\t{...}],
      const rows = [...stdout.matchAll(/^\['([^']+)',\s*(\d+(?:\.\d+)?),/gm)].map((r) => ({
        ip: r[1],
        time: Math.floor(Number(r[2])),
      }));
      assert.deepEqual(
        rows,
        BANS.map((b) => ({ ip: b.ip, time: Math.floor(b.at.getTime() / 1000) })),
        `TZ=${tz}`,
      );
    }
  });
});
