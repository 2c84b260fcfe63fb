import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { loadNodeConfig } from "../../src/config/load.js";
import { NODE_DEFAULTS } from "../../src/config/validate.js";

/** debian/f2bp2p.yaml: the commented /etc/f2bp2p/f2bp2p.yaml a fresh install gets. */
const TEMPLATE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../debian/f2bp2p.yaml");

function uncommented(text: string, keep: (line: string) => boolean): string {
  return text
    .split("\n")
    .map((line) => (/^#([a-z_]| {2})/.test(line) && keep(line) ? line.slice(1) : line))
    .join("\n");
}

describe("the packaged config template", () => {
  const text = fs.readFileSync(TEMPLATE, "utf8");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-template-"));

  it("sets nothing as installed, so the service stays skipped until the admin names the node", () => {
    assert.equal(YAML.parse(text), null);
    assert.doesNotMatch(text, /^name:/m, "the unit's ExecCondition looks for ^name:");
  });

  it("is valid once name and listen are uncommented", () => {
    const file = path.join(dir, "minimal.yaml");
    fs.writeFileSync(
      file,
      uncommented(text, (l) => /^#(name|listen):/.test(l)),
    );
    const config = loadNodeConfig(file);
    assert.equal(config.name, "alpha");
    assert.equal(config.bansLog, NODE_DEFAULTS.bans_log);
  });

  it("shows every setting with its default value: uncommenting all of it changes nothing", () => {
    const file = path.join(dir, "full.yaml");
    const full = uncommented(text, () => true);
    fs.writeFileSync(file, full);
    const parsed = YAML.parse(full) as Record<string, unknown>;
    for (const [key, value] of Object.entries(NODE_DEFAULTS)) assert.equal(parsed[key], value, key);
    const config = loadNodeConfig(file);
    const minimal = loadNodeConfig(path.join(dir, "minimal.yaml"));
    assert.deepEqual(
      { ...config, file: "", ignore: [], shareNeverBan: [], watch: null },
      { ...minimal, file: "", ignore: [], shareNeverBan: [], watch: null },
    );
    assert.deepEqual(config.ignore, ["192.0.2.0/24"]);
    assert.deepEqual(config.shareNeverBan, ["192.0.2.0/24"]);
    assert.deepEqual(config.watch, { fail2banLog: "/var/log/fail2ban.log", jails: ["sshd"] });
  });
});
