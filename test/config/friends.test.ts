import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { loadFriends } from "../../src/config/load.js";
import { configError, friendYaml, newKeys, onlyProblem, problemAt, tempDir, writeFile } from "./helpers.js";

const self = newKeys();

describe("loadFriends: valid folders", () => {
  test("a missing folder means no friends", (t) => {
    assert.deepEqual(loadFriends(path.join(tempDir(t), "friends.d"), self), []);
  });

  test("an empty folder means no friends", (t) => {
    assert.deepEqual(loadFriends(tempDir(t), self), []);
  });

  test("reads *.yaml and *.yml sorted by name; skips hidden files and other extensions", (t) => {
    const dir = tempDir(t);
    const [a, b, c, d] = [newKeys(), newKeys(), newKeys(), newKeys()];
    const fileB = writeFile(dir, "beta.yml", friendYaml("beta", b, { endpoint: "tcp://[2001:db8::2]:7711" }));
    const fileA = writeFile(
      dir,
      "alpha.yaml",
      friendYaml("alpha", a, { extra: ["trust: 0", "never_ban_applies_to_all: true"] }),
    );
    writeFile(dir, ".hidden.yaml", friendYaml("hidden", c));
    writeFile(dir, "gamma.yaml.bak", friendYaml("gamma", d));
    writeFile(dir, "README", "not yaml: [\n");
    const friends = loadFriends(dir, self);
    assert.deepEqual(friends, [
      {
        file: fileA,
        name: "alpha",
        endpoint: "tcp://192.0.2.10:7711",
        signingKey: a.signingKey,
        curveKey: a.curveKey,
        trust: 0,
        neverBanAppliesToAll: true,
      },
      {
        file: fileB,
        name: "beta",
        endpoint: "tcp://[2001:db8::2]:7711",
        signingKey: b.signingKey,
        curveKey: b.curveKey,
        trust: 80,
        neverBanAppliesToAll: false,
      },
    ]);
  });

  test("endpoints may use IPv4, [IPv6] or a DNS name", (t) => {
    const dir = tempDir(t);
    const endpoints = ["tcp://198.51.100.4:1", "tcp://[::1]:65535", "tcp://peer.example.net:7711"];
    endpoints.forEach((endpoint, i) => {
      writeFile(dir, `f${i}.yaml`, friendYaml(`f${i}`, newKeys(), { endpoint }));
    });
    assert.deepEqual(
      loadFriends(dir, self).map((f) => f.endpoint),
      endpoints,
    );
  });

  test("a relative folder resolves against the working directory", (t) => {
    const dir = tempDir(t);
    const file = writeFile(dir, "a.yaml", friendYaml("a", newKeys()));
    assert.equal(loadFriends(path.relative(process.cwd(), dir), self)[0]!.file, file);
  });
});

describe("loadFriends: problems in one file", () => {
  test("missing-key: every required key", (t) => {
    const dir = tempDir(t);
    const file = writeFile(dir, "a.yaml", "trust: 50\n");
    const err = configError(() => loadFriends(dir, self));
    assert.equal(err.problems.length, 4);
    for (const key of ["name", "endpoint", "signing_key", "curve_key"])
      problemAt(err, file, key, "missing-key");
  });

  test("unknown-key with a hint", (t) => {
    const dir = tempDir(t);
    const file = writeFile(dir, "a.yaml", friendYaml("a", newKeys(), { extra: ["trusted: 50"] }));
    const problem = onlyProblem(
      configError(() => loadFriends(dir, self)),
      file,
      "trusted",
      "unknown-key",
    );
    assert.match(problem.expected, /"trust"/);
  });

  test("wrong-type", (t) => {
    const dir = tempDir(t);
    const file = writeFile(
      dir,
      "a.yaml",
      "name: 12\nendpoint: [tcp://192.0.2.1:7711]\nsigning_key: {}\ncurve_key: true\ntrust: '80'\n",
    );
    const err = configError(() => loadFriends(dir, self));
    assert.equal(err.problems.length, 5);
    for (const key of ["name", "endpoint", "signing_key", "curve_key", "trust"])
      problemAt(err, file, key, "wrong-type");
  });

  test("out-of-range: trust above 100 and a port above 65535", (t) => {
    const dir = tempDir(t);
    const keys = newKeys();
    const file = writeFile(
      dir,
      "a.yaml",
      friendYaml("a", keys, { endpoint: "tcp://192.0.2.1:65536", extra: ["trust: 101"] }),
    );
    const err = configError(() => loadFriends(dir, self));
    assert.equal(err.problems.length, 2);
    problemAt(err, file, "trust", "out-of-range");
    problemAt(err, file, "endpoint", "out-of-range");
  });

  test("invalid-value: the * wildcard is not an endpoint to connect to", (t) => {
    const dir = tempDir(t);
    const file = writeFile(dir, "a.yaml", friendYaml("a", newKeys(), { endpoint: "tcp://*:7711" }));
    onlyProblem(
      configError(() => loadFriends(dir, self)),
      file,
      "endpoint",
      "invalid-value",
    );
  });

  test("invalid-value: signing keys that are not base64 of 32 bytes", (t) => {
    const dir = tempDir(t);
    const curve = newKeys().curveKey;
    const bad = [
      Buffer.alloc(31, 1).toString("base64"),
      Buffer.alloc(33, 1).toString("base64"),
      "not base64 at all!",
      Buffer.alloc(32, 1).toString("base64url"),
      `${Buffer.alloc(32, 1).toString("base64").slice(0, 42)}B=`,
    ];
    for (const signing of bad) {
      const file = writeFile(
        dir,
        "a.yaml",
        `name: a\nendpoint: tcp://192.0.2.1:1\nsigning_key: "${signing}"\ncurve_key: "${curve}"\n`,
      );
      onlyProblem(
        configError(() => loadFriends(dir, self)),
        file,
        "signing_key",
        "invalid-value",
      );
    }
  });

  test("invalid-value: curve keys that are not 40 characters of Z85", (t) => {
    const dir = tempDir(t);
    const good = newKeys().curveKey;
    const bad = [
      good.slice(0, 39),
      `${good}0`,
      `${good.slice(0, 39)}"`,
      `${good.slice(0, 39)},`,
      "#".repeat(40),
    ];
    for (const curve of bad) {
      const keys = { ...newKeys(), curveKey: curve };
      const file = writeFile(dir, "a.yaml", friendYaml("a", keys));
      onlyProblem(
        configError(() => loadFriends(dir, self)),
        file,
        "curve_key",
        "invalid-value",
      );
    }
  });

  test("invalid-value: a bad friend name", (t) => {
    const dir = tempDir(t);
    const file = writeFile(dir, "a.yaml", friendYaml("'a/b'", newKeys()));
    onlyProblem(
      configError(() => loadFriends(dir, self)),
      file,
      "name",
      "invalid-value",
    );
  });

  test("parse-error and not-a-mapping", (t) => {
    const dir = tempDir(t);
    const broken = writeFile(dir, "a.yaml", "name: a\n  endpoint: [\n");
    const list = writeFile(dir, "b.yaml", "- name: b\n");
    const empty = writeFile(dir, "c.yml", "");
    const err = configError(() => loadFriends(dir, self));
    assert.ok(err.problems.some((p) => p.file === broken && p.code === "parse-error"));
    assert.ok(err.problems.filter((p) => p.file === broken).every((p) => p.code === "parse-error"));
    problemAt(err, list, "", "not-a-mapping");
    problemAt(err, empty, "", "not-a-mapping");
  });

  test("unreadable: a folder named like a friend file, and a friends dir that is a file", (t) => {
    const dir = tempDir(t);
    const sub = path.join(dir, "a.yaml");
    fs.mkdirSync(sub);
    onlyProblem(
      configError(() => loadFriends(dir, self)),
      sub,
      "",
      "unreadable",
    );
    const notADir = writeFile(dir, "plain-file", "x\n");
    onlyProblem(
      configError(() => loadFriends(notADir, self)),
      notADir,
      "",
      "unreadable",
    );
  });
});

describe("loadFriends: checks across files", () => {
  test("duplicate-friend-name: reported on the later file", (t) => {
    const dir = tempDir(t);
    const first = writeFile(dir, "a.yaml", friendYaml("same", newKeys()));
    const second = writeFile(dir, "b.yaml", friendYaml("same", newKeys()));
    const problem = onlyProblem(
      configError(() => loadFriends(dir, self)),
      second,
      "name",
      "duplicate-friend-name",
    );
    assert.ok(problem.got?.includes(first));
  });

  test("duplicate-friend-key: the same signing key or curve key in two files", (t) => {
    const dir = tempDir(t);
    const shared = newKeys();
    writeFile(dir, "a.yaml", friendYaml("a", shared));
    const sameSigning = writeFile(
      dir,
      "b.yaml",
      friendYaml("b", { ...newKeys(), signingText: shared.signingText }),
    );
    const sameCurve = writeFile(dir, "c.yaml", friendYaml("c", { ...newKeys(), curveKey: shared.curveKey }));
    const err = configError(() => loadFriends(dir, self));
    assert.equal(err.problems.length, 2);
    problemAt(err, sameSigning, "signing_key", "duplicate-friend-key");
    problemAt(err, sameCurve, "curve_key", "duplicate-friend-key");
  });

  test("friend-is-self: a friend with our signing key or our curve key", (t) => {
    const dir = tempDir(t);
    const mySigning = writeFile(
      dir,
      "a.yaml",
      friendYaml("a", { ...newKeys(), signingText: self.signingText }),
    );
    const myCurve = writeFile(dir, "b.yaml", friendYaml("b", { ...newKeys(), curveKey: self.curveKey }));
    const err = configError(() => loadFriends(dir, self));
    assert.equal(err.problems.length, 2);
    problemAt(err, mySigning, "signing_key", "friend-is-self");
    problemAt(err, myCurve, "curve_key", "friend-is-self");
  });

  test("problems across all files are thrown together, including cross-file ones in files with other problems", (t) => {
    const dir = tempDir(t);
    const a = writeFile(dir, "a.yaml", friendYaml("dup", newKeys(), { extra: ["trust: 200"] }));
    const b = writeFile(dir, "b.yaml", friendYaml("dup", newKeys(), { omit: ["endpoint"] }));
    const c = writeFile(dir, "c.yaml", "[\n");
    const err = configError(() => loadFriends(dir, self));
    problemAt(err, a, "trust", "out-of-range");
    problemAt(err, b, "endpoint", "missing-key");
    problemAt(err, b, "name", "duplicate-friend-name");
    assert.ok(err.problems.some((p) => p.file === c && p.code === "parse-error"));
    assert.deepEqual(
      err.message.split("\n").map((line) => line.slice(0, dir.length)),
      err.problems.map(() => dir),
    );
  });
});
