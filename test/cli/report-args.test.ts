import assert from "node:assert/strict";
import { describe, it } from "node:test";
import YAML from "yaml";
import { leanReportArgs } from "../../src/cli/report-args.js";
import { plainSetting } from "../../src/cli/report-fast.js";

describe("the lean report path", () => {
  it("recognises report with its options in any order", () => {
    const expected = { config: "/etc/x.yaml", ip: "203.0.113.7", jail: "sshd", json: false };
    assert.deepEqual(
      leanReportArgs(["-c", "/etc/x.yaml", "report", "203.0.113.7", "--jail", "sshd"]),
      expected,
    );
    assert.deepEqual(
      leanReportArgs(["report", "203.0.113.7", "--jail=sshd", "--config=/etc/x.yaml"]),
      expected,
    );
    assert.deepEqual(leanReportArgs(["report", "2001:db8::1"]), {
      config: undefined,
      ip: "2001:db8::1",
      jail: undefined,
      json: false,
    });
  });

  it("takes --json, -o and --output", () => {
    for (const args of [
      ["report", "203.0.113.7", "--json"],
      ["-o", "json", "report", "203.0.113.7"],
      ["report", "--output", "json", "203.0.113.7"],
      ["report", "203.0.113.7", "--output=json"],
    ]) {
      assert.equal(leanReportArgs(args)?.json, true, args.join(" "));
    }
    assert.equal(leanReportArgs(["report", "203.0.113.7", "-o", "human"])?.json, false);
    // An unknown format goes to the full CLI, which says what is allowed.
    assert.equal(leanReportArgs(["report", "203.0.113.7", "-o", "yaml"]), null);
  });

  it("leaves everything else to the full CLI", () => {
    for (const args of [
      ["report"],
      ["report", "--help"],
      ["report", "203.0.113.7", "extra"],
      ["report", "203.0.113.7", "--jial", "sshd"],
      ["status"],
      ["-c"],
      [],
    ]) {
      assert.equal(leanReportArgs(args), null, args.join(" "));
    }
  });

  it("reads control_socket, state_dir and spool_dir the way the YAML parser does, or asks for the parser", () => {
    for (const key of ["control_socket", "state_dir", "spool_dir"] as const) {
      const cases = [
        `name: a\n${key}: /run/f2bp2p/x\n`,
        `${key}: x.d   # relative to this file\n`,
        `${key}: "/run/with space/x"\n`,
        `${key}: '/run/quoted'\nname: x\n`,
        "name: a\nlisten: tcp://127.0.0.1:7711\n",
      ];
      for (const text of cases) {
        assert.equal(plainSetting(text, key), YAML.parse(text)[key], text);
      }
      for (const text of [`${key}: >\n  /run/folded\n`, `${key}: "/run/esc\\tape"\n`, `${key}: &a /x\n`]) {
        assert.equal(plainSetting(text, key), null, text);
      }
    }
  });
});
