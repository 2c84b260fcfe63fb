import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import YAML from "yaml";
import { keygen } from "../../src/cli/keygen.js";
import { loadFriends } from "../../src/config/load.js";
import { loadIdentity } from "../../src/keys/identity.js";

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-keys-"));
}

const args = (dir: string, force = false) => ({
  name: "alpha",
  endpoint: "tcp://alpha.example.net:7711",
  trust: 80,
  keysDir: path.join(dir, "keys"),
  config: undefined,
  force,
  out: undefined,
});

describe("keygen", () => {
  it("writes the secret key with mode 0600 and the friend block with 0644, whatever the umask", () => {
    const dir = tempDir();
    const previous = process.umask(0o000);
    try {
      keygen(args(dir), {});
    } finally {
      process.umask(previous);
    }
    assert.equal(fs.statSync(path.join(dir, "keys", "node.key")).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(dir, "keys", "node.pub")).mode & 0o777, 0o644);
  });

  it("never overwrites existing keys without --force", () => {
    const dir = tempDir();
    keygen(args(dir), {});
    const before = fs.readFileSync(path.join(dir, "keys", "node.key"), "utf8");
    assert.throws(() => keygen(args(dir), {}), { name: "KeyError", code: "ERR_KEY_EXISTS" });
    assert.equal(fs.readFileSync(path.join(dir, "keys", "node.key"), "utf8"), before);
    keygen(args(dir, true), {});
    assert.notEqual(fs.readFileSync(path.join(dir, "keys", "node.key"), "utf8"), before);
  });

  it("prints a friend block that a friend can save as friends.d/alpha.yaml as it is", () => {
    const dir = tempDir();
    const { block } = keygen(args(dir), {});
    const parsed = YAML.parse(block);
    assert.equal(parsed.name, "alpha");
    assert.equal(parsed.endpoint, "tcp://alpha.example.net:7711");
    assert.equal(parsed.trust, 80);
    const friendDir = path.join(dir, "friends.d");
    fs.mkdirSync(friendDir);
    fs.writeFileSync(path.join(friendDir, "alpha.yaml"), block);
    const other = tempDir();
    keygen({ ...args(other), name: "bravo" }, {});
    const me = loadIdentity(path.join(other, "keys"));
    const [friend] = loadFriends(friendDir, { signingKey: me.signingPublicKey, curveKey: me.curvePublicKey });
    const alpha = loadIdentity(path.join(dir, "keys"));
    assert.deepEqual(Buffer.from(friend!.signingKey), alpha.signingPublicKey);
    assert.equal(friend!.curveKey, alpha.curvePublicKey);
  });

  it("refuses a secret key that others can read", () => {
    const dir = tempDir();
    keygen(args(dir), {});
    fs.chmodSync(path.join(dir, "keys", "node.key"), 0o644);
    assert.throws(() => loadIdentity(path.join(dir, "keys")), { name: "KeyError", code: "ERR_KEY_INVALID" });
  });

  it("rejects bad names, endpoints and trust with a usage error", () => {
    const dir = tempDir();
    assert.throws(() => keygen({ ...args(dir), name: "a b" }, {}), { name: "UsageError" });
    assert.throws(() => keygen({ ...args(dir), endpoint: "alpha:7711" }, {}), { name: "UsageError" });
    assert.throws(() => keygen({ ...args(dir), trust: 101 }, {}), { name: "UsageError" });
    assert.equal(fs.existsSync(path.join(dir, "keys")), false);
  });
});
