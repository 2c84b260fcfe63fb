import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import fc from "fast-check";
import { formatBanLine } from "../../src/node/ban-line.js";
import { NeverBan } from "../../src/node/never-ban.js";
import { parseIp } from "../../src/protocol/ip.js";

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const FILTER = join(ROOT, "fail2ban", "filter.d", "f2bp2p.conf");

/** IPv6 group values with many zeros, so every `::` placement and IPv4-compatible form turns up. */
const group = fc.oneof(
  fc.constant(0),
  fc.constant(0),
  fc.integer({ min: 0, max: 0xffff }),
  fc.constant(0xffff),
);
const ipv6Text = fc
  .array(group, { minLength: 8, maxLength: 8 })
  .map((gs) => gs.map((g) => g.toString(16)).join(":"));
const anyAddress = fc.oneof(
  fc.ipV4(),
  ipv6Text,
  fc.ipV6(),
  fc.ipV4().map((v4) => `::${v4}`),
);

describe("every address the node writes is banned by the shipped filter (real fail2ban-regex)", () => {
  it("property: a bans log line for any bannable address is matched, and fail2ban reads the same address", async (t) => {
    const never = new NeverBan([], {});
    const dir = await mkdtemp(join(tmpdir(), "f2bp2p-filter-prop-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(anyAddress, { minLength: 1, maxLength: 400 }), async (inputs) => {
        // What the node writes: canonical text of addresses that are not never-banned.
        const written = inputs
          .map((text) => parseIp(text))
          .filter((ip) => ip !== null && !never.has(ip.text));
        if (written.length === 0) return;
        const sample = join(dir, `bans-${runs++}.log`);
        const at = new Date("2026-11-30T12:00:00.000Z");
        await writeFile(
          sample,
          written
            .map((ip) => formatBanLine({ at, ip: ip!.text, score: 80, origin: "3fa2c1d09b7e", hops: 1 }))
            .join(""),
        );
        const { stdout } = await run("fail2ban-regex", ["-o", "ip", sample, FILTER], { maxBuffer: 1 << 24 });
        const read = stdout.split("\n").filter((l) => l !== "");
        assert.equal(
          read.length,
          written.length,
          `fail2ban matched ${read.length} of ${written.length} lines`,
        );
        read.forEach((text, i) => {
          // fail2ban prints some IPv6 addresses in its own (dotted) form: compare the bytes.
          assert.deepEqual(
            [...(parseIp(text)?.bytes ?? [])],
            [...written[i]!.bytes],
            `${written[i]!.text} read as ${text}`,
          );
        });
      }),
      { numRuns: 5 },
    );
  });
});

describe("bans log lines", () => {
  it("write an address in canonical text whatever form it arrives in", () => {
    const at = new Date("2026-11-30T12:00:00.000Z");
    const line = (ip: string) => formatBanLine({ at, ip, score: 80, origin: "3fa2c1d09b7e", hops: 1 });
    assert.equal(
      line("::203.0.113.8"),
      "2026-11-30T12:00:00.000Z BAN ::cb00:7108 score=80 origin=3fa2c1d09b7e hops=1\n",
    );
    assert.equal(
      line("2001:DB8::0:7"),
      "2026-11-30T12:00:00.000Z BAN 2001:db8::7 score=80 origin=3fa2c1d09b7e hops=1\n",
    );
    assert.equal(
      line("::ffff:198.51.100.4"),
      "2026-11-30T12:00:00.000Z BAN 198.51.100.4 score=80 origin=3fa2c1d09b7e hops=1\n",
    );
  });
});
