import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { normaliseIpOrCidr } from "../../src/config/validate.js";
import { NeverBan } from "../../src/node/never-ban.js";
import { isCanonicalIp, parseIp, parseRange, rangeContains } from "../../src/protocol/ip.js";
import { jailLabel } from "../../src/protocol/jail.js";
import { decodeReport, signReport } from "../../src/protocol/report.js";
import { testKey } from "../helpers/keys.js";

/** The rows of the table in docs/protocol.md section 5.1: the spec's own test vectors. */
function specCanonicalTable(): [string, string][] {
  const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");
  const section = doc.slice(doc.indexOf("### 5.1 Canonical IP text"), doc.indexOf("### 5.2"));
  const rows = [...section.matchAll(/^\| `([^`]+)` \| `([^`]+)`/gm)].map(
    (m) => [m[1]!, m[2]!] as [string, string],
  );
  assert.ok(rows.length >= 10, "the spec table was found");
  return rows;
}

describe("canonical IP text (docs/protocol.md 5.1)", () => {
  it("every row of the spec's table", () => {
    for (const [input, canonical] of specCanonicalTable()) {
      assert.equal(parseIp(input)?.text, canonical, input);
      assert.ok(isCanonicalIp(canonical), canonical);
    }
  });

  it("IPv4-compatible addresses are written in hex, never with a dotted tail", () => {
    assert.equal(parseIp("::c000:23d")?.text, "::c000:23d");
    assert.equal(parseIp("::192.0.2.61")?.text, "::c000:23d");
    assert.equal(parseIp("::203.0.113.8")?.text, "::cb00:7108");
    assert.equal(isCanonicalIp("::203.0.113.8"), false);
    assert.equal(isCanonicalIp("::cb00:7108"), true);
  });

  it("IPv4-mapped addresses fold to IPv4, in every spelling", () => {
    for (const text of ["::ffff:203.0.113.9", "::FFFF:cb00:7109", "0:0:0:0:0:ffff:203.0.113.9"]) {
      assert.deepEqual(parseIp(text), {
        text: "203.0.113.9",
        family: 4,
        bytes: Uint8Array.of(203, 0, 113, 9),
      });
    }
  });

  it("refuses what is not a single address", () => {
    for (const bad of [
      "",
      "203.0.113.07",
      "203.0.113",
      "0xcb.0.113.7",
      "fe80::1%eth0",
      "[2001:db8::1]",
      "203.0.113.0/24",
      "host.example",
      "2001:db8:::1",
      "1".repeat(50),
    ]) {
      assert.equal(parseIp(bad), null, bad);
    }
  });

  it("property: canonical text is RFC 5952 hex, round-trips and names the same bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const groups = [];
        for (let i = 0; i < 16; i += 2)
          groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16).padStart(4, "0"));
        const full = groups.join(":").toUpperCase();
        const ip = parseIp(full);
        assert.ok(ip !== null, full);
        assert.equal(parseIp(ip.text)?.text, ip.text);
        assert.ok(isCanonicalIp(ip.text));
        if (ip.family === 6) {
          assert.doesNotMatch(ip.text, /\./);
          assert.deepEqual([...ip.bytes], [...bytes]);
        } else {
          assert.deepEqual([...ip.bytes], [...bytes.slice(12)]);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("ranges: one grammar for check and run", () => {
  it("an IPv4-mapped range is the IPv4 range it maps", () => {
    const parsed = parseRange("::ffff:192.0.2.0/120");
    assert.ok(parsed.ok);
    assert.equal(parsed.range.text, "192.0.2.0/24");
    assert.deepEqual(normaliseIpOrCidr("::ffff:192.0.2.0/120"), { ok: true, value: "192.0.2.0/24" });
    const never = new NeverBan(["::ffff:192.0.2.0/120"], {});
    assert.equal(never.has("192.0.2.200"), true);
    assert.equal(never.has("203.0.113.5"), false);
  });

  it("an IPv4-mapped address with an IPv4-sized prefix is refused, not widened to ::/24", () => {
    assert.deepEqual(parseRange("::ffff:192.0.2.0/24"), { ok: false, problem: "mapped-prefix" });
    const checked = normaliseIpOrCidr("::ffff:192.0.2.0/24");
    assert.equal(checked.ok, false);
    assert.equal(!checked.ok && checked.code, "out-of-range");
  });

  it("an IPv6 range never covers IPv4 addresses", () => {
    const never = new NeverBan(["::/24", "::/0"], {});
    assert.equal(never.has("203.0.113.5"), false);
    assert.equal(never.has("::ffff:203.0.113.5"), false);
    assert.equal(never.has("2001:db8::5"), true);
  });

  it("host bits are cleared and a full prefix is the single address", () => {
    const texts = ["192.0.2.77/24", "2001:DB8::1/128", "198.51.100.7/32", "0.0.0.0/0", "2001:db8:0:0:1::/64"];
    const want = ["192.0.2.0/24", "2001:db8::1", "198.51.100.7", "0.0.0.0/0", "2001:db8::/64"];
    assert.deepEqual(
      texts.map((t) => (parseRange(t) as { range: { text: string } }).range.text),
      want,
    );
  });

  it("refuses prefixes out of range and garbage", () => {
    for (const [text, problem] of [
      ["192.0.2.0/33", "prefix-out-of-range"],
      ["2001:db8::/129", "prefix-out-of-range"],
      ["::ffff:192.0.2.0/129", "prefix-out-of-range"],
      ["192.0.2.0/x", "invalid"],
      ["192.0.2.0/", "invalid"],
      ["192.0.2.0/-1", "invalid"],
      ["192.0.2.0/24/24", "invalid"],
      ["example.net", "invalid"],
    ] as const) {
      assert.deepEqual(parseRange(text), { ok: false, problem }, text);
    }
  });

  /** Addresses as people write them: every family and spelling, including mapped and dotted-tail IPv6. */
  const addressText = fc.oneof(
    fc.ipV4(),
    fc.ipV6(),
    fc.ipV4().map((v4) => `::ffff:${v4}`),
    fc.ipV4().map((v4) => `::${v4}`),
    fc.ipV6().map((v6) => v6.toUpperCase()),
  );
  const rangeText = fc.oneof(
    addressText,
    fc.tuple(addressText, fc.integer({ min: 0, max: 140 })).map(([a, p]) => `${a}/${p}`),
    fc.string({ maxLength: 50 }),
  );

  it("property: what `check` accepts, `run` accepts and enforces for the address written", () => {
    fc.assert(
      fc.property(rangeText, (text) => {
        const checked = normaliseIpOrCidr(text);
        if (!checked.ok) return;
        // run: the node builds its never-ban list from the normalised config value.
        const never = new NeverBan([], {});
        const special = never.reason(text.split("/")[0]!);
        assert.equal(never.add(checked.value, "test"), true, text);
        const address = parseIp(text.split("/")[0]!);
        assert.ok(address !== null, text);
        const want = special ?? "test"; // a special-purpose block is named first
        assert.equal(never.reason(address), want, `${text} -> ${checked.value} must hold ${address.text}`);
        // normalising twice changes nothing
        assert.deepEqual(normaliseIpOrCidr(checked.value), checked);
      }),
      { numRuns: 3000 },
    );
  });

  it("property: containment agrees with node's BlockList on plain IPv4 and IPv6 ranges", async () => {
    const net = await import("node:net");
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV4()),
          fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 }), fc.ipV6()),
        ),
        ([network, prefix, probe]) => {
          const parsed = parseRange(`${network}/${prefix}`);
          const ip = parseIp(probe);
          if (!parsed.ok || ip === null) return; // mapped forms are covered above
          const list = new net.BlockList();
          const type = ip.family === 4 ? "ipv4" : "ipv6";
          if (parsed.range.family !== ip.family) return;
          list.addSubnet(parsed.range.text.split("/")[0]!, parsed.range.prefix, type);
          assert.equal(
            rangeContains(parsed.range, ip),
            list.check(ip.text, type),
            `${network}/${prefix} ${probe}`,
          );
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("docs/protocol.md 16.5: the IPv4-compatible report vector", () => {
  /** The hex blocks of section 16.5, each joined into one string. */
  function vectors(): string[] {
    const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");
    const section = doc.slice(doc.indexOf("### 16.5"));
    return [...section.matchAll(/```\n([0-9a-f\n]+)```/g)].map((m) => m[1]!.replace(/\n/g, ""));
  }

  it("the report bytes, signature and id are what A produces, and they decode to the canonical forms", () => {
    const [bytes, signature, id] = vectors();
    const a = testKey(1);
    const ip = parseIp("::203.0.113.8")!.text;
    const signed = signReport(
      { ip, time: 1767225600000, origin: a.publicKey, jail: jailLabel("shop1.customer-example-site.com-cc") },
      a.signer,
    );
    assert.equal(signed.bytes.toString("hex"), bytes);
    assert.equal(signed.signature.toString("hex"), signature);
    assert.equal(signed.id.toString("hex"), id);
    const decoded = decodeReport(Buffer.from(bytes!, "hex"));
    assert.ok(decoded.ok);
    assert.equal(decoded.value.ip, "::cb00:7108");
    const dotted = Buffer.from(
      bytes!.replace("3a3a636230303a37313038", Buffer.from("::203.0.113.8").toString("hex")),
      "hex",
    );
    dotted[2] = "::203.0.113.8".length;
    assert.deepEqual(decodeReport(dotted), { ok: false, code: "invalid-ip" });
  });
});
