import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ConfigError, type ConfigProblem, formatProblem } from "../../src/config/errors.js";
import { parseDuration, parseEndpointHost } from "../../src/config/load.js";
import { editDistance, normaliseIpOrCidr, suggestKey } from "../../src/config/validate.js";

describe("parseDuration", () => {
  test("units s, m, h, d and bare seconds", () => {
    assert.equal(parseDuration("90s"), 90);
    assert.equal(parseDuration("30m"), 1800);
    assert.equal(parseDuration("24h"), 86400);
    assert.equal(parseDuration("7d"), 604800);
    assert.equal(parseDuration("3600"), 3600);
    assert.equal(parseDuration(3600), 3600);
    assert.equal(parseDuration("0s"), 0);
  });

  test("anything else is null", () => {
    for (const text of ["", "h", "1.5h", "-5s", "24H", "1h30m", " 24h", "24 h", "1w", "0x10"]) {
      assert.equal(parseDuration(text), null, text);
    }
    for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      assert.equal(parseDuration(n), null, String(n));
  });

  test("property: N followed by a unit is N times the unit's seconds", () => {
    const units = { s: 1, m: 60, h: 3600, d: 86400 } as const;
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), fc.constantFrom("s", "m", "h", "d"), (n, unit) => {
        assert.equal(parseDuration(`${n}${unit}`), n * units[unit]);
      }),
    );
  });
});

describe("parseEndpointHost", () => {
  test("returns the host without brackets", () => {
    assert.equal(parseEndpointHost("tcp://192.0.2.1:7711"), "192.0.2.1");
    assert.equal(parseEndpointHost("tcp://[2001:db8::1]:7711"), "2001:db8::1");
    assert.equal(parseEndpointHost("tcp://peer.example.net:7711"), "peer.example.net");
    assert.equal(parseEndpointHost("tcp://*:7711"), "*");
  });

  test("throws on something that is not an endpoint", () => {
    assert.throws(() => parseEndpointHost("192.0.2.1:7711"), TypeError);
  });
});

describe("normaliseIpOrCidr", () => {
  test("property: IPv4 ranges are idempotent and keep every address of the original range", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (address, prefix) => {
        const first = normaliseIpOrCidr(`${address}/${prefix}`);
        assert.ok(first.ok);
        const again = normaliseIpOrCidr(first.value);
        assert.ok(again.ok);
        assert.equal(again.value, first.value);
        const [network, bits = "32"] = first.value.split("/");
        const list = new net.BlockList();
        list.addSubnet(network!, Number(bits), "ipv4");
        assert.ok(list.check(address, "ipv4"));
      }),
    );
  });

  test("property: IPv6 addresses and ranges are idempotent and lower case", () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.option(fc.integer({ min: 0, max: 128 })), (address, prefix) => {
        const text = prefix === null ? address.toUpperCase() : `${address.toUpperCase()}/${prefix}`;
        const first = normaliseIpOrCidr(text);
        assert.ok(first.ok, text);
        assert.equal(first.value, first.value.toLowerCase());
        const again = normaliseIpOrCidr(first.value);
        assert.ok(again.ok);
        assert.equal(again.value, first.value);
        if (prefix !== null) {
          const [network, bits = "128"] = first.value.split("/");
          const list = new net.BlockList();
          list.addSubnet(network!, Number(bits), "ipv6");
          assert.ok(list.check(address, "ipv6"));
        }
      }),
    );
  });
});

describe("key suggestions", () => {
  const known = ["name", "listen", "threshold", "report_lifetime", "max_hops"];

  test("near misses and other spellings of the same words", () => {
    assert.equal(suggestKey("treshold", known), "threshold");
    assert.equal(suggestKey("max_hop", known), "max_hops");
    assert.equal(suggestKey("maxHops", known), "max_hops");
    assert.equal(suggestKey("report-lifetime", known), "report_lifetime");
    assert.equal(suggestKey("colour", known), undefined);
  });

  test("editDistance", () => {
    assert.equal(editDistance("", "abc"), 3);
    assert.equal(editDistance("kitten", "sitting"), 3);
    assert.equal(editDistance("same", "same"), 0);
  });
});

describe("ConfigError", () => {
  const problems: ConfigProblem[] = [
    {
      file: "/etc/f2bp2p/f2bp2p.yaml",
      key: "threshold",
      code: "out-of-range",
      expected: "1 to 100",
      got: "500",
    },
    { file: "/etc/f2bp2p/friends.d/a.yaml", key: "name", code: "missing-key", expected: "a name" },
    { file: "/etc/f2bp2p/missing.yaml", key: "", code: "not-found", expected: "a file", got: "nothing" },
  ];

  test("lists every problem, one per line, naming file and key", () => {
    const err = new ConfigError(problems);
    assert.ok(err instanceof Error);
    assert.equal(err.name, "ConfigError");
    assert.equal(err.code, "ERR_CONFIG");
    assert.deepEqual(err.problems, problems);
    const lines = err.message.split("\n");
    assert.equal(lines.length, 3);
    problems.forEach((p, i) => {
      assert.equal(lines[i], formatProblem(p));
      assert.ok(lines[i]!.startsWith(p.file));
      assert.ok(lines[i]!.includes(p.key));
      assert.ok(p.got === undefined || lines[i]!.includes(p.got));
    });
  });
});
