import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  DEFAULT_CONFIG_PATH,
  DEFAULT_FRIEND_TRUST,
  LIMITS,
  NODE_DEFAULTS,
} from "../../src/config/defaults.js";
import { parseDuration } from "../../src/config/validate.js";
import * as constants from "../../src/protocol/constants.js";

const read = (relative: string): string =>
  readFileSync(new URL(`../../../${relative}`, import.meta.url), "utf8");

/** `| \`key\` | cell | cell | ... |` rows of the markdown between two headings, by key. */
function table(doc: string, from: string, to: string): Map<string, string[]> {
  const section = doc.slice(doc.indexOf(from), doc.indexOf(to, doc.indexOf(from) + from.length));
  const rows = new Map<string, string[]>();
  for (const m of section.matchAll(/^\| `([^`]+)` *\|(.*)\|$/gm)) {
    rows.set(
      m[1]!,
      m[2]!.split("|").map((c) => c.trim()),
    );
  }
  return rows;
}

const range = (r: { min: number; max: number }): string => `${r.min} to ${r.max}`;

describe("docs and shipped files agree with config/defaults.ts", () => {
  const configuration = read("docs/configuration.md");

  it("docs/configuration.md: the f2bp2p.yaml table", () => {
    const rows = table(configuration, "## f2bp2p.yaml", "### `name`");
    const cell = (key: string, column: number): string => {
      const row = rows.get(key);
      assert.ok(row, `row ${key} in the table`);
      return row[column]!;
    };
    assert.equal(cell("threshold", 1), `\`${NODE_DEFAULTS.threshold}\``);
    assert.equal(cell("threshold", 2), range(LIMITS.threshold));
    const lifetime = parseDuration(NODE_DEFAULTS.report_lifetime);
    assert.equal(cell("report_lifetime", 1), `\`${NODE_DEFAULTS.report_lifetime}\` (${lifetime} seconds)`);
    assert.equal(
      cell("report_lifetime", 2),
      `${LIMITS.report_lifetime.min} seconds to ${LIMITS.report_lifetime.max / 86400} days`,
    );
    assert.equal(cell("sync_interval", 1), `\`${NODE_DEFAULTS.sync_interval}\``);
    assert.equal(parseDuration(NODE_DEFAULTS.sync_interval), 30);
    assert.equal(cell("sync_interval", 2), "1 second to 1 hour");
    assert.equal(LIMITS.sync_interval.min, 1);
    assert.equal(LIMITS.sync_interval.max, 3600);
    assert.equal(cell("max_hops", 1), `\`${NODE_DEFAULTS.max_hops}\``);
    assert.equal(cell("max_hops", 2), range(LIMITS.max_hops));
    assert.equal(cell("max_reports_per_friend", 1), `\`${NODE_DEFAULTS.max_reports_per_friend}\``);
    assert.equal(cell("max_reports_per_friend", 2), range(LIMITS.max_reports_per_friend));
    for (const key of ["friend_reports_per_second", "friend_burst"] as const) {
      assert.equal(cell(key, 1), `\`${NODE_DEFAULTS[key]}\``, key);
      assert.equal(cell(key, 2), range(LIMITS[key]), key);
    }
    for (const key of [
      "bans_log",
      "auth_log",
      "control_socket",
      "state_dir",
      "keys_dir",
      "friends_dir",
      "log_level",
    ] as const) {
      assert.equal(cell(key, 1), `\`${NODE_DEFAULTS[key]}\``, key);
    }
    assert.equal(
      cell("control_socket", 2),
      `at most ${LIMITS.control_socket_bytes.max} bytes once made absolute`,
    );
    assert.equal(cell("name", 2), `${range(LIMITS.name)} characters from \`A-Z a-z 0-9 . _ -\``);
  });

  it("docs/configuration.md: the watch and friend file tables", () => {
    const watch = table(configuration, "### `watch`", "## Friend files");
    assert.match(watch.get("jails")![2]!, new RegExp(`each ${range(LIMITS.fail2ban_jail)} characters`));
    const friend = table(configuration, "## Friend files", "## ");
    assert.equal(friend.get("trust")![1], `\`${DEFAULT_FRIEND_TRUST}\``);
    assert.equal(friend.get("trust")![2], range(LIMITS.trust));
  });

  it("docs/protocol.md section 9: every named limit is the constant of that name", () => {
    const limits = table(read("docs/protocol.md"), "## 9. Limits", "## 10.");
    let named = 0;
    for (const [name, [value]] of limits) {
      if (!/^[A-Z_]+$/.test(name)) continue;
      named++;
      assert.equal(Number(value), (constants as Record<string, unknown>)[name], name);
    }
    assert.ok(named >= 8, "the named limits were found");
  });

  it("docs/protocol.md: report lifetime range and jail label pattern", () => {
    const protocol = read("docs/protocol.md");
    const lifetime = `| report lifetime      | ${LIMITS.report_lifetime.min} s – ${LIMITS.report_lifetime.max / 86400} days | receiver's \`report_lifetime\`, default ${parseDuration(NODE_DEFAULTS.report_lifetime)} s (24 h) |`;
    assert.ok(protocol.includes(lifetime), lifetime);
    assert.ok(
      protocol.includes(`\`${constants.JAIL_NAME_PATTERN.source}\``),
      constants.JAIL_NAME_PATTERN.source,
    );
    assert.ok(
      protocol.includes(
        `| \`MAX_PATH\`           | ${constants.MAX_PATH}     | keys in one path; a node's \`max_hops\` (${range(LIMITS.max_hops).replace(" to ", "–")}) may only be lower |`,
      ),
    );
  });

  it("fail2ban/: the jail watches the default bans log, the action uses the default config", () => {
    assert.match(
      read("fail2ban/jail.d/f2bp2p.conf"),
      new RegExp(`^logpath += ${NODE_DEFAULTS.bans_log}$`, "m"),
    );
    assert.match(
      read("fail2ban/action.d/f2bp2p.conf"),
      new RegExp(`^f2bp2p_config = ${DEFAULT_CONFIG_PATH}$`, "m"),
    );
  });
});
