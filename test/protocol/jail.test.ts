import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { jailNameRule } from "../../src/config/validate.js";
import { classifyFail2banLine } from "../../src/ingest/fail2ban-log.js";
import { JAIL_NAME_PATTERN } from "../../src/protocol/constants.js";
import { FAIL2BAN_JAIL_PATTERN, fnv1a32, jailLabel } from "../../src/protocol/jail.js";
import { decodeReport, signReport } from "../../src/protocol/report.js";
import { testKey } from "../helpers/keys.js";

describe("jail name as a label (docs/protocol.md 5.3)", () => {
  it("every row of the spec's label table", () => {
    const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");
    const section = doc.slice(doc.indexOf("### 5.3 Jail name"), doc.indexOf("## 6."));
    const rows = [...section.matchAll(/^\| `([^`]+)` \| `([^`]+)` \|$/gm)];
    assert.equal(rows.length, 3);
    for (const [, name, label] of rows) assert.equal(jailLabel(name!), label, name);
  });

  it("a valid wire name is its own label; no jail stays empty", () => {
    for (const name of ["sshd", "nginx-http-auth", "a", "j".repeat(32), "postfix.sasl_1"]) {
      assert.equal(jailLabel(name), name);
    }
    assert.equal(jailLabel(""), "");
  });

  it("a jail named after a virtual host, 34 characters, is shortened with a hash of the whole name", () => {
    const name = "shop1.customer-example-site.com-cc";
    assert.equal(fnv1a32(name), fnv1a32(name));
    assert.equal(jailLabel(name), `shop1.customer-example-_${fnv1a32(name)}`);
    assert.equal(jailLabel(name).length, 32);
    assert.notEqual(jailLabel("shop1.customer-example-site.com-dd"), jailLabel(name));
  });

  it("other characters become _, and long names get the hash", () => {
    assert.equal(jailLabel("ssh@22"), "ssh_22");
    assert.equal(jailLabel("Ünïcode jail"), "_n_code_jail");
    assert.equal(jailLabel("😀"), "_");
    assert.match(jailLabel("x".repeat(1000)), /^x{23}_[0-9a-f]{8}$/);
  });

  it("FNV-1a 32 matches its published test values", () => {
    assert.equal(fnv1a32(""), "811c9dc5");
    assert.equal(fnv1a32("a"), "e40c292c");
    assert.equal(fnv1a32("foobar"), "bf9cf968");
  });

  it("property: every string gets a valid wire label, deterministically, and labels are fixed points", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 80 })),
        (name) => {
          const label = jailLabel(name);
          assert.ok(
            label === "" ? name === "" : JAIL_NAME_PATTERN.test(label),
            `${JSON.stringify(name)} -> ${label}`,
          );
          assert.equal(jailLabel(name), label);
          assert.equal(jailLabel(label), label);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("fail2ban's own jail names: anything but ], white space and control characters, up to 256", () => {
    assert.ok(FAIL2BAN_JAIL_PATTERN.test("shop1.customer-example-site.com-cc"));
    assert.ok(FAIL2BAN_JAIL_PATTERN.test("j".repeat(256)));
    assert.ok(FAIL2BAN_JAIL_PATTERN.test("ssh@22"));
    for (const bad of ["", "a]b", "a b", "a\nb", "j".repeat(257)])
      assert.ok(!FAIL2BAN_JAIL_PATTERN.test(bad), bad);
  });
});

describe("a jail name accepted in one place is accepted everywhere", () => {
  const key = testKey(1);
  it("property: config accepts it -> log-watch reads its Ban line -> its label goes over the wire", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ minLength: 1, maxLength: 300 }), fc.stringMatching(/^[a-z0-9.-]{20,60}$/)),
        (name) => {
          if (!jailNameRule.check(name).ok) return;
          const line = `2026-11-30 12:00:00,000 fail2ban.actions        [1]: NOTICE  [${name}] Ban 203.0.113.9`;
          assert.deepEqual(classifyFail2banLine(line), {
            kind: "ban",
            ban: { jail: name, ip: "203.0.113.9" },
          });
          const signed = signReport(
            { ip: "203.0.113.9", time: 1, origin: key.publicKey, jail: jailLabel(name) },
            key.signer,
          );
          const decoded = decodeReport(signed.bytes);
          assert.ok(decoded.ok, name);
          assert.equal(decoded.value.jail, jailLabel(name));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
