import assert from "node:assert/strict";
import { describe, it } from "node:test";
import YAML from "yaml";
import { leanReportArgs } from "../../src/cli/report-args.js";
import { plainControlSocket } from "../../src/cli/report-fast.js";

describe("the lean report path", () => {
  it("recognises report with its options in any order", () => {
    const expected = { config: "/etc/x.yaml", ip: "203.0.113.7", jail: "sshd" };
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
    });
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

  it("reads control_socket the way the YAML parser does, or asks for the parser", () => {
    const cases = [
      "name: a\ncontrol_socket: /run/f2bp2p/control.sock\n",
      "control_socket: control.sock   # relative to this file\n",
      'control_socket: "/run/with space/c.sock"\n',
      "control_socket: '/run/quoted.sock'\nname: x\n",
      "name: a\nlisten: tcp://127.0.0.1:7711\n",
    ];
    for (const text of cases) {
      const parsed = YAML.parse(text).control_socket ?? "/run/f2bp2p/control.sock";
      assert.equal(plainControlSocket(text), parsed, text);
    }
    for (const text of [
      "control_socket: >\n  /run/folded.sock\n",
      'control_socket: "/run/esc\\tape.sock"\n',
      "control_socket: &a /x\n",
    ]) {
      assert.equal(plainControlSocket(text), null, text);
    }
  });
});
