import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validateNodeDocument } from "../../src/config/validate.js";

const FILE = "/etc/f2bp2p/f2bp2p.yaml";
const base = { name: "alpha", listen: "tcp://127.0.0.1:7711" };

function metricsOf(extra: Record<string, unknown>) {
  const { config, problems } = validateNodeDocument({ ...base, ...extra }, FILE);
  return { listen: config?.metricsListen, problems };
}

describe("metrics_listen", () => {
  it("is off by default and when empty", () => {
    assert.equal(metricsOf({}).listen, null);
    assert.equal(metricsOf({ metrics_listen: null }).listen, null);
  });

  it("takes a loopback address, IPv6 in brackets", () => {
    assert.deepEqual(metricsOf({ metrics_listen: "127.0.0.1:7712" }).listen, {
      host: "127.0.0.1",
      port: 7712,
    });
    assert.deepEqual(metricsOf({ metrics_listen: "127.0.0.53:9000" }).listen, {
      host: "127.0.0.53",
      port: 9000,
    });
    assert.deepEqual(metricsOf({ metrics_listen: "[::1]:7712" }).listen, { host: "::1", port: 7712 });
  });

  for (const value of ["0.0.0.0:7712", "192.0.2.10:7712", "[::]:7712", "[2001:db8::1]:7712"]) {
    it(`refuses ${value} unless metrics_allow_remote is true`, () => {
      const refused = metricsOf({ metrics_listen: value });
      assert.equal(refused.listen, undefined);
      assert.equal(refused.problems.length, 1);
      assert.equal(refused.problems[0]!.key, "metrics_listen");
      assert.match(refused.problems[0]!.expected, /loopback address.*metrics_allow_remote: true/);
      const allowed = metricsOf({ metrics_listen: value, metrics_allow_remote: true });
      assert.deepEqual(allowed.problems, []);
      assert.equal(allowed.listen?.port, 7712);
    });
  }

  for (const value of [
    "localhost:7712",
    "127.0.0.1",
    "::1:7712",
    "127.0.0.1:0",
    "127.0.0.1:70000",
    7712,
    true,
  ]) {
    it(`refuses ${JSON.stringify(value)}`, () => {
      const { problems } = metricsOf({ metrics_listen: value });
      assert.equal(problems.length, 1);
      assert.equal(problems[0]!.key, "metrics_listen");
    });
  }

  it("metrics_allow_remote must be true or false", () => {
    const { problems } = metricsOf({ metrics_allow_remote: "yes" });
    assert.equal(problems[0]!.key, "metrics_allow_remote");
    assert.equal(problems[0]!.code, "wrong-type");
  });
});
