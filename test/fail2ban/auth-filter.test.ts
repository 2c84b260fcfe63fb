import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { type AuthFailure, formatAuthFailure, formatFriendAuthFailure } from "../../src/fail2ban/auth-log.js";
import { REPO_ROOT, requireFail2ban } from "../helpers/fail2ban.js";

const run = promisify(execFile);
const FILTER = path.join(REPO_ROOT, "fail2ban", "filter.d", "f2bp2p-auth.conf");

const at = new Date("2026-11-30T14:30:41.123Z");
/** Z85 keys use characters that mean something to regexes and to fail2ban's interpolation. */
const KEYS = ["rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "0000000000000000000000000000000000000000"];
const FAILURES: AuthFailure[] = [
  { at, address: "203.0.113.5", reason: "unknown-key", key: KEYS[0]! },
  { at, address: "2001:db8::5", reason: "unknown-key", key: KEYS[1]! },
  { at, address: "198.51.100.9", reason: "bad-mechanism" },
];

describe("fail2ban/filter.d/f2bp2p-auth.conf with the real fail2ban-regex", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-auth-filter-"));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("matches every AUTH-FAIL line with its address, and no friend's or garbled line", async (t) => {
    if (!(await requireFail2ban(t))) return;
    const good = FAILURES.map(formatAuthFailure);
    const bad = [
      formatFriendAuthFailure(FAILURES[0]!, "beta"),
      formatAuthFailure(FAILURES[0]!).replace("Z AUTH-FAIL", " AUTH-FAIL"),
      formatAuthFailure(FAILURES[0]!).replace(/^\S+ /, ""),
      `${formatAuthFailure(FAILURES[2]!).trimEnd()} from 192.0.2.99\n`,
      formatAuthFailure({ ...FAILURES[0]!, address: "attacker.example.com" }),
    ];
    const sample = path.join(dir, "auth.log");
    fs.writeFileSync(sample, [...good, ...bad].join(""));
    const { stdout } = await run("fail2ban-regex", ["-o", "row", sample, FILTER]);
    const ips = [...stdout.matchAll(/^\['([^']+)',\s*(\d+)/gm)].map((r) => [r[1], Number(r[2])]);
    const seconds = Math.floor(at.getTime() / 1000);
    assert.deepEqual(ips, [
      ["203.0.113.5", seconds],
      ["2001:db8::5", seconds],
      ["198.51.100.9", seconds],
    ]);
  });
});
