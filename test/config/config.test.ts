import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { DEFAULT_CONFIG_PATH, findConfigPath, loadNodeConfig } from "../../src/config/load.js";
import { configError, onlyProblem, problemAt, tempDir, writeFile } from "./helpers.js";

const MINIMAL = "name: node-1\nlisten: tcp://127.0.0.1:7711\n";

/** Writes f2bp2p.yaml with the minimal required keys plus `extra`, and returns its path. */
function configWith(dir: string, extra: string): string {
  return writeFile(dir, "f2bp2p.yaml", MINIMAL + extra);
}

describe("findConfigPath", () => {
  test("--config wins over F2BP2P_CONFIG and the default", () => {
    const env = { F2BP2P_CONFIG: "/srv/env.yaml" };
    assert.equal(findConfigPath("/srv/cli.yaml", env), "/srv/cli.yaml");
  });

  test("F2BP2P_CONFIG is used without --config", () => {
    assert.equal(findConfigPath(undefined, { F2BP2P_CONFIG: "/srv/env.yaml" }), "/srv/env.yaml");
  });

  test("the default is /etc/f2bp2p/f2bp2p.yaml; empty values count as unset", () => {
    assert.equal(DEFAULT_CONFIG_PATH, "/etc/f2bp2p/f2bp2p.yaml");
    assert.equal(findConfigPath(undefined, {}), DEFAULT_CONFIG_PATH);
    assert.equal(findConfigPath("", { F2BP2P_CONFIG: "" }), DEFAULT_CONFIG_PATH);
  });

  test("relative values resolve against the working directory", () => {
    assert.equal(findConfigPath("conf/f.yaml", {}), path.resolve(process.cwd(), "conf/f.yaml"));
    assert.equal(
      findConfigPath(undefined, { F2BP2P_CONFIG: "e.yaml" }),
      path.resolve(process.cwd(), "e.yaml"),
    );
  });
});

describe("loadNodeConfig: valid files", () => {
  test("defaults apply to every optional key", (t) => {
    const dir = tempDir(t);
    const file = configWith(dir, "");
    const config = loadNodeConfig(file);
    assert.deepEqual(config, {
      file,
      name: "node-1",
      listen: "tcp://127.0.0.1:7711",
      threshold: 80,
      reportLifetimeSeconds: 86400,
      maxHops: 6,
      maxReportsPerFriend: 250_000,
      friendReportsPerSecond: 200,
      friendBurst: 20_000,
      syncIntervalSeconds: 30,
      bansLog: "/var/log/f2bp2p/bans.log",
      authLog: "/var/log/f2bp2p/auth.log",
      controlSocket: "/run/f2bp2p/control.sock",
      stateDir: "/var/lib/f2bp2p",
      spoolDir: "/var/lib/f2bp2p/spool",
      keysDir: path.join(dir, "keys"),
      friendsDir: path.join(dir, "friends.d"),
      ignore: [],
      specialBannable: [],
      shareNeverBan: [],
      shareOwnAddresses: true,
      logLevel: "info",
      watch: null,
      metricsListen: null,
    });
  });

  test("every key set", (t) => {
    const dir = tempDir(t);
    const file = writeFile(
      dir,
      "f2bp2p.yaml",
      [
        "name: edge.example-2_b",
        "listen: tcp://[::1]:7711",
        "threshold: 100",
        "report_lifetime: 7d",
        "max_hops: 16",
        "bans_log: /tmp/bans.log",
        "control_socket: /tmp/f2bp2p.sock",
        "state_dir: /tmp/state",
        "spool_dir: /var/spool/f2bp2p",
        "keys_dir: /tmp/keys",
        "friends_dir: /tmp/friends",
        "ignore: ['192.0.2.1', '198.51.100.0/24', '2001:db8::/32']",
        "log_level: debug",
        "watch:",
        "  fail2ban_log: /var/log/fail2ban.log",
        "  jails: [sshd, nginx-http-auth]",
        "",
      ].join("\n"),
    );
    const config = loadNodeConfig(file);
    assert.equal(config.name, "edge.example-2_b");
    assert.equal(config.listen, "tcp://[::1]:7711");
    assert.equal(config.threshold, 100);
    assert.equal(config.reportLifetimeSeconds, 7 * 86400);
    assert.equal(config.maxHops, 16);
    assert.equal(config.bansLog, "/tmp/bans.log");
    assert.equal(config.controlSocket, "/tmp/f2bp2p.sock");
    assert.equal(config.stateDir, "/tmp/state");
    assert.equal(config.spoolDir, "/var/spool/f2bp2p");
    assert.equal(config.keysDir, "/tmp/keys");
    assert.equal(config.friendsDir, "/tmp/friends");
    assert.deepEqual(config.ignore, ["192.0.2.1", "198.51.100.0/24", "2001:db8::/32"]);
    assert.equal(config.logLevel, "debug");
    assert.deepEqual(config.watch, {
      fail2banLog: "/var/log/fail2ban.log",
      jails: ["sshd", "nginx-http-auth"],
    });
  });

  test("relative paths resolve against the config file's folder, not the working directory", (t) => {
    const dir = tempDir(t);
    const file = configWith(
      dir,
      [
        "bans_log: log/bans.log",
        "control_socket: run/c.sock",
        "state_dir: ./state",
        "keys_dir: ../shared-keys",
        "friends_dir: peers",
        "watch:",
        "  fail2ban_log: f2b.log",
        "",
      ].join("\n"),
    );
    const config = loadNodeConfig(path.relative(process.cwd(), file));
    assert.equal(config.file, file);
    assert.equal(config.bansLog, path.join(dir, "log/bans.log"));
    assert.equal(config.controlSocket, path.join(dir, "run/c.sock"));
    assert.equal(config.stateDir, path.join(dir, "state"));
    // spool_dir's default follows state_dir.
    assert.equal(config.spoolDir, path.join(dir, "state", "spool"));
    assert.equal(config.keysDir, path.join(path.dirname(dir), "shared-keys"));
    assert.equal(config.friendsDir, path.join(dir, "peers"));
    assert.deepEqual(config.watch, { fail2banLog: path.join(dir, "f2b.log"), jails: [] });
  });

  test("listen accepts IPv4, [IPv6], * and DNS names", (t) => {
    const dir = tempDir(t);
    for (const listen of [
      "tcp://0.0.0.0:1",
      "tcp://[2001:db8::7]:65535",
      "tcp://*:7711",
      "tcp://node.example.net:7711",
    ]) {
      const file = writeFile(dir, "f2bp2p.yaml", `name: n\nlisten: ${JSON.stringify(listen)}\n`);
      assert.equal(loadNodeConfig(file).listen, listen);
    }
  });

  test("report_lifetime accepts seconds and s, m, h, d units", (t) => {
    const dir = tempDir(t);
    const cases: [string, number][] = [
      ["60", 60],
      ["90s", 90],
      ["30m", 1800],
      ["24h", 86400],
      ["30d", 2592000],
      ["2592000", 2592000],
    ];
    for (const [text, seconds] of cases) {
      const file = configWith(dir, `report_lifetime: ${text}\n`);
      assert.equal(loadNodeConfig(file).reportLifetimeSeconds, seconds, text);
    }
  });

  test("ignore entries are normalised: IPv6 compressed lower case, ranges as network addresses", (t) => {
    const dir = tempDir(t);
    const entries = [
      "2001:DB8:0:0:0:0:0:1",
      "2001:0db8:0000::/32",
      "2001:DB8:0:1:0:0:0:0/64",
      "2001:db8:0:0:1::/64",
      "192.0.2.77/24",
      "203.0.113.9",
      "::1",
      "::ffff:192.0.2.1",
      "0.0.0.0/0",
      "2001:db8::1/128",
    ];
    const file = configWith(dir, `ignore:\n${entries.map((e) => `  - "${e}"`).join("\n")}\n`);
    assert.deepEqual(loadNodeConfig(file).ignore, [
      "2001:db8::1",
      "2001:db8::/32",
      "2001:db8:0:1::/64",
      "2001:db8::/64",
      "192.0.2.0/24",
      "203.0.113.9",
      "::1",
      "192.0.2.1",
      "0.0.0.0/0",
      "2001:db8::1",
    ]);
  });

  test("unquoted IPv6 entries parse as text", (t) => {
    const dir = tempDir(t);
    const file = configWith(dir, "ignore:\n  - 2001:db8::1\n  - ::1\n  - 2001:DB8::/48\n");
    assert.deepEqual(loadNodeConfig(file).ignore, ["2001:db8::1", "::1", "2001:db8::/48"]);
  });
});

describe("loadNodeConfig: problems", () => {
  test("not-found: the file does not exist", (t) => {
    const file = path.join(tempDir(t), "missing.yaml");
    onlyProblem(
      configError(() => loadNodeConfig(file)),
      file,
      "",
      "not-found",
    );
  });

  test("unreadable: the path is a folder", (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, "f2bp2p.yaml");
    fs.mkdirSync(file);
    onlyProblem(
      configError(() => loadNodeConfig(file)),
      file,
      "",
      "unreadable",
    );
  });

  test("parse-error: YAML syntax errors carry the line number", (t) => {
    const dir = tempDir(t);
    const file = writeFile(dir, "f2bp2p.yaml", "name: n\nlisten: tcp://127.0.0.1:1\nignore: [192.0.2.1\n");
    const err = configError(() => loadNodeConfig(file));
    assert.ok(err.problems.every((p) => p.code === "parse-error" && p.file === file && p.key === ""));
    assert.match(err.problems[0]!.got ?? "", /line [0-9]+/);
  });

  test("parse-error: duplicate keys name the line of the second one", (t) => {
    const dir = tempDir(t);
    const file = writeFile(dir, "f2bp2p.yaml", `${MINIMAL}threshold: 50\nthreshold: 60\n`);
    const problem = onlyProblem(
      configError(() => loadNodeConfig(file)),
      file,
      "",
      "parse-error",
    );
    assert.match(problem.got ?? "", /line 4\b/);
  });

  test("not-a-mapping: a list, a scalar or an empty file", (t) => {
    const dir = tempDir(t);
    for (const text of ["- name: n\n", "just text\n", "", "# only a comment\n"]) {
      const file = writeFile(dir, "f2bp2p.yaml", text);
      onlyProblem(
        configError(() => loadNodeConfig(file)),
        file,
        "",
        "not-a-mapping",
      );
    }
  });

  test("missing-key: name and listen are required, both reported", (t) => {
    const dir = tempDir(t);
    const file = writeFile(dir, "f2bp2p.yaml", "threshold: 70\n");
    const err = configError(() => loadNodeConfig(file));
    assert.equal(err.problems.length, 2);
    problemAt(err, file, "name", "missing-key");
    problemAt(err, file, "listen", "missing-key");
  });

  test("missing-key: watch.fail2ban_log is required inside watch", (t) => {
    const dir = tempDir(t);
    const file = configWith(dir, "watch:\n  jails: [sshd]\n");
    onlyProblem(
      configError(() => loadNodeConfig(file)),
      file,
      "watch.fail2ban_log",
      "missing-key",
    );
  });

  test("unknown-key: with a did-you-mean hint for near misses", (t) => {
    const dir = tempDir(t);
    const file = configWith(dir, "treshold: 70\nreportLifetime: 1h\nfavourite_colour: blue\n");
    const err = configError(() => loadNodeConfig(file));
    assert.equal(err.problems.length, 3);
    assert.match(problemAt(err, file, "treshold", "unknown-key").expected, /"threshold"/);
    assert.match(problemAt(err, file, "reportLifetime", "unknown-key").expected, /"report_lifetime"/);
    assert.doesNotMatch(problemAt(err, file, "favourite_colour", "unknown-key").expected, /did you mean/);
  });

  test("unknown-key: inside watch", (t) => {
    const dir = tempDir(t);
    const file = configWith(dir, "watch:\n  fail2ban_log: /var/log/fail2ban.log\n  jail: [sshd]\n");
    const problem = onlyProblem(
      configError(() => loadNodeConfig(file)),
      file,
      "watch.jail",
      "unknown-key",
    );
    assert.match(problem.expected, /"jails"/);
  });

  test("wrong-type: each key checks its YAML type", (t) => {
    const dir = tempDir(t);
    const file = writeFile(
      dir,
      "f2bp2p.yaml",
      [
        "name: [a, b]",
        "listen: 7711",
        'threshold: "80"',
        "report_lifetime: true",
        "max_hops: {a: 1}",
        "bans_log: 5",
        "control_socket:",
        "ignore: 192.0.2.1",
        "log_level: 3",
        "watch: yes",
        "",
      ].join("\n"),
    );
    const err = configError(() => loadNodeConfig(file));
    const keys = ["name", "listen", "threshold", "report_lifetime", "max_hops", "bans_log", "control_socket"];
    for (const key of [...keys, "ignore", "log_level", "watch"]) problemAt(err, file, key, "wrong-type");
    assert.equal(err.problems.length, 10);
  });

  test("wrong-type: list items and watch keys", (t) => {
    const dir = tempDir(t);
    const file = configWith(dir, "ignore: [192.0.2.1, 42]\nwatch:\n  fail2ban_log: [a]\n  jails: sshd\n");
    const err = configError(() => loadNodeConfig(file));
    assert.equal(err.problems.length, 3);
    problemAt(err, file, "ignore[1]", "wrong-type");
    problemAt(err, file, "watch.fail2ban_log", "wrong-type");
    problemAt(err, file, "watch.jails", "wrong-type");
  });

  test("out-of-range: numbers outside their range", (t) => {
    const dir = tempDir(t);
    const file = configWith(dir, "threshold: 0\nmax_hops: 17\nreport_lifetime: 59\n");
    const err = configError(() => loadNodeConfig(file));
    assert.equal(err.problems.length, 3);
    problemAt(err, file, "threshold", "out-of-range");
    problemAt(err, file, "max_hops", "out-of-range");
    problemAt(err, file, "report_lifetime", "out-of-range");
  });

  test("out-of-range: threshold 101, report_lifetime 31d, a port 0, a prefix /33", (t) => {
    const dir = tempDir(t);
    const file = writeFile(
      dir,
      "f2bp2p.yaml",
      "name: n\nlisten: tcp://127.0.0.1:0\nthreshold: 101\nreport_lifetime: 31d\nignore: [192.0.2.0/33, 2001:db8::/129]\n",
    );
    const err = configError(() => loadNodeConfig(file));
    assert.equal(err.problems.length, 5);
    for (const key of ["listen", "threshold", "report_lifetime", "ignore[0]", "ignore[1]"]) {
      problemAt(err, file, key, "out-of-range");
    }
  });

  test("share_never_ban: each entry no wider than /24 or /48, at most 64; share_own_addresses a boolean", (t) => {
    const dir = tempDir(t);
    const ok = loadNodeConfig(
      configWith(dir, "share_never_ban: [198.51.100.7/24, '2001:db8:1::/48']\nshare_own_addresses: false\n"),
    );
    assert.deepEqual(ok.shareNeverBan, ["198.51.100.0/24", "2001:db8:1::/48"]);
    assert.equal(ok.shareOwnAddresses, false);
    const file = configWith(
      dir,
      "share_never_ban: [198.51.100.0/23, '2001:db8::/47', nonsense]\nshare_own_addresses: maybe\n",
    );
    const err = configError(() => loadNodeConfig(file));
    problemAt(err, file, "share_never_ban[0]", "out-of-range");
    problemAt(err, file, "share_never_ban[1]", "out-of-range");
    problemAt(err, file, "share_never_ban[2]", "invalid-value");
    problemAt(err, file, "share_own_addresses", "wrong-type");
    const many = Array.from({ length: 65 }, (_, i) => `203.0.113.${i}`).join(", ");
    const tooMany = configWith(dir, `share_never_ban: [${many}]\n`);
    problemAt(
      configError(() => loadNodeConfig(tooMany)),
      tooMany,
      "share_never_ban",
      "out-of-range",
    );
  });

  test("out-of-range: a control socket path of 100 bytes or more", (t) => {
    const dir = tempDir(t);
    const fits = `/${"s".repeat(98)}`;
    assert.equal(loadNodeConfig(configWith(dir, `control_socket: ${fits}\n`)).controlSocket, fits);
    const file = configWith(dir, `control_socket: /${"s".repeat(99)}\n`);
    onlyProblem(
      configError(() => loadNodeConfig(file)),
      file,
      "control_socket",
      "out-of-range",
    );
  });

  test("out-of-range: a relative control socket counts its resolved length", (t) => {
    const dir = tempDir(t);
    const relative = "s".repeat(100 - dir.length - 1);
    assert.equal(Buffer.byteLength(path.join(dir, relative)), 100);
    const file = configWith(dir, `control_socket: ${relative}\n`);
    onlyProblem(
      configError(() => loadNodeConfig(file)),
      file,
      "control_socket",
      "out-of-range",
    );
  });

  test("invalid-value: bad formats", (t) => {
    const dir = tempDir(t);
    const file = writeFile(
      dir,
      "f2bp2p.yaml",
      [
        "name: my node",
        "listen: 127.0.0.1:7711",
        "threshold: 80.5",
        "report_lifetime: 1h30m",
        "bans_log: ''",
        "state_dir: ~/state",
        "log_level: INFO",
        "ignore: [192.0.2.300, 'fe80::1%eth0', 192.0.2.0/x, example.net]",
        "watch:",
        "  fail2ban_log: /var/log/fail2ban.log",
        "  jails: [sshd, 'bad jail']",
        "",
      ].join("\n"),
    );
    const err = configError(() => loadNodeConfig(file));
    const keys = ["name", "listen", "threshold", "report_lifetime", "bans_log", "state_dir", "log_level"];
    const listKeys = ["ignore[0]", "ignore[1]", "ignore[2]", "ignore[3]", "watch.jails[1]"];
    for (const key of [...keys, ...listKeys]) problemAt(err, file, key, "invalid-value");
    assert.equal(err.problems.length, keys.length + listKeys.length);
  });

  test("invalid-value: endpoints that are not tcp://HOST:PORT", (t) => {
    const dir = tempDir(t);
    const bad = [
      "udp://127.0.0.1:7711",
      "tcp://127.0.0.1",
      "tcp://::1:7711",
      "tcp://[192.0.2.1]:7711",
      "tcp://999.1.2.3:7711",
      "tcp://bad_host:7711",
      "tcp://127.0.0.1:77a",
      "tcp://:7711",
    ];
    for (const listen of bad) {
      const file = writeFile(dir, "f2bp2p.yaml", `name: n\nlisten: ${JSON.stringify(listen)}\n`);
      onlyProblem(
        configError(() => loadNodeConfig(file)),
        file,
        "listen",
        "invalid-value",
      );
    }
  });

  test("a name of 64 characters is fine, 65 is not", (t) => {
    const dir = tempDir(t);
    const ok = writeFile(dir, "f2bp2p.yaml", `name: ${"n".repeat(64)}\nlisten: tcp://127.0.0.1:1\n`);
    assert.equal(loadNodeConfig(ok).name.length, 64);
    const file = writeFile(dir, "f2bp2p.yaml", `name: ${"n".repeat(65)}\nlisten: tcp://127.0.0.1:1\n`);
    onlyProblem(
      configError(() => loadNodeConfig(file)),
      file,
      "name",
      "invalid-value",
    );
  });

  test("all problems in one file are reported together, one per line", (t) => {
    const dir = tempDir(t);
    const file = writeFile(dir, "f2bp2p.yaml", "listen: tcp://127.0.0.1:7711\nthreshold: 500\nmax_hop: 3\n");
    const err = configError(() => loadNodeConfig(file));
    assert.equal(err.problems.length, 3);
    problemAt(err, file, "name", "missing-key");
    problemAt(err, file, "threshold", "out-of-range");
    problemAt(err, file, "max_hop", "unknown-key");
    const lines = err.message.split("\n");
    assert.equal(lines.length, 3);
    assert.ok(lines.every((line) => line.startsWith(`${file}: `)));
  });
});
