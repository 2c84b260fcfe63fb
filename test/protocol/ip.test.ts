import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import net from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import { normaliseIpOrCidr } from "../../src/config/validate.js";
import { NeverBan } from "../../src/node/never-ban.js";
import { MAX_IP_BYTES } from "../../src/protocol/constants.js";
import { addressBytes, isCanonicalIp, parseIp, parseRange, rangeContains } from "../../src/protocol/ip.js";
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

/**
 * The address grammar as it was defined before the hand-written parser: net.isIP decides, then the
 * text is split into groups and octets. The parser must agree with it on every input.
 */
function referenceBytes(input: string): Uint8Array | null {
  if (input.length === 0 || input.length > MAX_IP_BYTES || input.includes("%")) return null;
  const family = net.isIP(input);
  if (family === 4) return Uint8Array.from(input.split(".").map(Number));
  if (family !== 6) return null;
  const gap = input.indexOf("::");
  const left = gap < 0 ? input : input.slice(0, gap);
  const right = gap < 0 ? "" : input.slice(gap + 2);
  const out = new Uint8Array(16);
  const write = (part: string, at: number): void => {
    if (part === "") return;
    for (const group of part.split(":")) {
      if (group.includes(".")) {
        for (const octet of group.split(".")) out[at++] = Number(octet);
      } else {
        const value = Number.parseInt(group, 16);
        out[at++] = value >> 8;
        out[at++] = value & 0xff;
      }
    }
  };
  write(left, 0);
  const rightGroups = right === "" ? 0 : right.split(":").length + (right.includes(".") ? 1 : 0);
  write(right, 16 - 2 * rightGroups);
  return out;
}

/** Fails with the input named when the parser and the reference differ on it. */
function assertSameAsReference(input: string): Uint8Array | null {
  const got = addressBytes(input);
  const want = referenceBytes(input);
  const show = (b: Uint8Array | null) => (b === null ? "rejected" : `[${b.join(",")}]`);
  if (got === null ? want !== null : want === null || Buffer.compare(got, want) !== 0) {
    assert.fail(`${JSON.stringify(input)}: parser ${show(got)}, net.isIP and split ${show(want)}`);
  }
  return got;
}

/** mulberry32: a small seeded generator, so every run checks the same strings and a failure reproduces. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe("address grammar: exactly what net.isIP accepts, minus zone ids", () => {
  /** [text, what net.isIP (Node 20) says]: the edges of RFC 4291 section 2.2 as node reads them. */
  const edges: [string, 0 | 4 | 6][] = [
    ["::", 6],
    ["::1", 6],
    ["1::", 6],
    ["1:2:3:4:5:6:7::", 6], // `::` for the last group alone
    ["::1:2:3:4:5:6:7", 6], // ... the first group alone
    ["1::2:3:4:5:6:7", 6], // ... one group in the middle
    ["1::2:3:4:5:6:7:8", 0], // `::` must stand for at least one group
    ["1:2:3:4:5:6:7:8::", 0],
    ["::1:2:3:4:5:6:7:8", 0],
    ["1:2:3:4:5:6:7:8", 6],
    ["0:0:0:0:0:0:0:0", 6],
    ["1:2:3:4:5:6:7", 0],
    ["1:2:3:4:5:6:7:8:9", 0],
    [":::", 0],
    [":::1", 0],
    ["1:::2", 0],
    ["::1::", 0],
    ["1::2::3", 0],
    [":1:2:3:4:5:6:7:8", 0],
    ["1:2:3:4:5:6:7:8:", 0],
    [":1::", 0],
    [":ab:1", 0], // one leading `:` is not `::`
    ["1::2:", 0],
    ["0000::1", 6],
    ["00000::1", 0],
    ["12345::", 0],
    ["abcd:EF01::Ab:cD", 6],
    ["g::1", 0],
    ["::G", 0],
    ["::1.2.3.4", 6],
    ["::ffff:1.2.3.4", 6],
    ["::0:1.2.3.4", 6],
    ["::ffff:0.0.0.0", 6],
    ["::255.255.255.255", 6],
    ["0000:0000:0000:0000:0000:ffff:255.255.255.255", 6], // the longest address: MAX_IP_BYTES
    ["1:2:3:4:5:6:1.2.3.4", 6],
    ["1:2:3:4:5::1.2.3.4", 6],
    ["1::2:3:4:5:1.2.3.4", 6],
    ["::1:2:3:4:5:1.2.3.4", 6],
    ["1:2:3:4:5:6::1.2.3.4", 0], // the dotted quad is two groups: no room left for `::`
    ["1::2:3:4:5:6:1.2.3.4", 0],
    ["::1:2:3:4:5:6:1.2.3.4", 0],
    ["1:2:3:4:5:6:7:1.2.3.4", 0],
    ["1.2.3.4::", 0], // the dotted quad only as the last 32 bits
    ["1.2.3.4::1", 0],
    ["::1.2.3.4:1", 0],
    ["::ffff:1.2.3.4:5", 0],
    ["::1.2.3", 0],
    ["::1.2.3.4.5", 0],
    ["::01.2.3.4", 0],
    ["::1.2.3.04", 0],
    ["::256.1.1.1", 0],
    ["0.0.0.0", 4],
    ["1.2.3.0", 4],
    ["255.255.255.255", 4],
    ["256.0.0.0", 0],
    ["1.2.3", 0],
    ["1.2.3.4.", 0],
    [".1.2.3.4", 0],
    ["1..2.3", 0],
    ["01.2.3.4", 0],
    ["1.2.3.00", 0],
    ["0x1.2.3.4", 0],
    ["1.2.3.4 ", 0],
    [" ::1", 0],
    ["::1\n", 0],
    ["1:2:3:4:5:6:7:8 ", 0],
    ["\uff11.2.3.4", 0], // a fullwidth digit
    ["::\u0661", 0], // an Arabic-Indic digit
    ["[::1]", 0],
    ["::1/128", 0],
    ["", 0],
    ["fe80::1%eth0", 6], // net.isIP takes zone ids; f2bp2p does not
    ["::%1", 6],
  ];

  it("the edge cases: net.isIP's verdict, and the parser's bytes match it", () => {
    for (const [text, family] of edges) {
      assert.equal(net.isIP(text), family, `net.isIP(${JSON.stringify(text)})`);
      const bytes = assertSameAsReference(text);
      const want = text.includes("%") ? null : family === 0 ? null : family === 4 ? 4 : 16;
      assert.equal(bytes?.length ?? null, want, JSON.stringify(text));
    }
  });

  /** Characters addresses are made of, with the near misses an attacker or a typo brings. */
  const alphabet = [..."0123456789abcdefABCDEF:.", ..."::..0fF", ..."gGxX %/[]-+\n\t\0\uff10\u0660"];

  function generator(seed: number) {
    const random = seededRandom(seed);
    const below = (n: number) => Math.floor(random() * n);
    const pick = <T>(items: readonly T[]): T => items[below(items.length)]!;

    const hexGroup = (): string => {
      const value = random() < 0.3 ? 0 : below(0x10000);
      let text = value.toString(16);
      if (random() < 0.2) text = text.padStart(1 + below(5), "0"); // up to five digits: some too long
      return random() < 0.3 ? text.toUpperCase() : text;
    };
    const octet = (): string => {
      const value = random() < 0.9 ? below(256) : below(1000);
      return random() < 0.05 ? `0${value}` : String(value);
    };
    const dottedQuad = (): string => {
      const octets = Array.from({ length: random() < 0.9 ? 4 : 3 + below(3) }, octet);
      return octets.join(".");
    };
    /** Mostly valid IPv6: 8 (sometimes 7 or 9) groups, maybe a dotted tail, maybe a `::` run. */
    const ipv6 = (): string => {
      const count = random() < 0.85 ? 8 : pick([6, 7, 9]);
      const groups = Array.from({ length: count }, hexGroup);
      if (random() < 0.3) groups.splice(count - 2, 2, dottedQuad());
      if (random() < 0.7) {
        const start = below(groups.length + 1);
        const length = below(groups.length - start + 1); // 0 to the end: `::` for no group too
        groups.splice(start, length, "");
        if (start === 0) groups.unshift("");
        if (start + 1 >= groups.length) groups.push("");
      }
      return groups.join(":");
    };
    /** Runs of address-like tokens in any order. */
    const soup = (): string => {
      const tokens = ["::", ":", ".", "0", "00", "255", "256", "ffff", "FFFF", "12345", "%1"];
      let text = "";
      for (let n = 1 + below(16); n > 0; n--) {
        const roll = random();
        text += roll < 0.4 ? pick(tokens) : roll < 0.7 ? hexGroup() : roll < 0.85 ? octet() : pick(alphabet);
      }
      return text;
    };
    const mutate = (text: string): string => {
      for (let n = 1 + below(3); n > 0; n--) {
        const at = below(text.length + 1);
        const roll = random();
        if (roll < 0.3) text = text.slice(0, at) + text.slice(at + 1);
        else if (roll < 0.6) text = text.slice(0, at) + pick(alphabet) + text.slice(at);
        else if (roll < 0.85) text = text.slice(0, at) + pick(alphabet) + text.slice(at + 1);
        else text = text.slice(0, at) + text.slice(below(text.length), at) + text.slice(at); // repeat a piece
      }
      return text;
    };
    return () => {
      const roll = random();
      if (roll < 0.3) return ipv6();
      if (roll < 0.4) return dottedQuad();
      if (roll < 0.7) return mutate(random() < 0.75 ? ipv6() : dottedQuad());
      return soup();
    };
  }

  it("300,000 generated strings: the same verdict and bytes as net.isIP and the split reference", () => {
    const next = generator(0x5eed1);
    let ipv4 = 0;
    let ipv6 = 0;
    let rejected = 0;
    for (let n = 0; n < 300_000; n++) {
      const bytes = assertSameAsReference(next());
      if (bytes === null) rejected++;
      else if (bytes.length === 4) ipv4++;
      else ipv6++;
    }
    // The generator must reach both sides of the grammar, or the comparison proves little.
    assert.ok(ipv4 > 10_000 && ipv6 > 40_000 && rejected > 100_000, JSON.stringify({ ipv4, ipv6, rejected }));
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
