import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { askNode } from "../../src/cli/control-client.js";
import { EXIT_OK, EXIT_STATE } from "../../src/cli/exit-codes.js";
import { writeNetworkFiles } from "../../src/demo/local-network.js";
import { loadIdentity } from "../../src/keys/identity.js";
import { parseIp } from "../../src/protocol/ip.js";
import { signReport } from "../../src/protocol/report.js";
import { encodeRecord } from "../../src/state/journal-import.js";
import { VIA_SELF } from "../../src/trust/rules.js";
import { banCounts, f2bp2p, friendsConnected, killAll, runNode, spawnRun } from "../helpers/node-process.js";
import { waitFor } from "../helpers/wait.js";

const dirs: string[] = [];
after(() => {
  killAll();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Two nodes, a and b, friends with trust 100 both ways: each bans what the other reports. */
async function pair() {
  const files = await writeNetworkFiles({
    nodes: [{ name: "a" }, { name: "b" }],
    links: [["a", "b", 100, 100]],
  });
  dirs.push(files.dir);
  const home = (n: string) => path.join(files.dir, n);
  return {
    files,
    config: (n: string) => files.configs.get(n)!,
    socket: (n: string) => path.join(home(n), "control.sock"),
    bansLog: (n: string) => path.join(home(n), "bans.log"),
    stateDir: (n: string) => path.join(home(n), "state"),
  };
}

/** Distinct attacker addresses in 2001:db8::/32 (never this host's own), in canonical text. */
const attacker = (i: number): string =>
  parseIp(`2001:db8:7:${(i >> 16).toString(16)}::${(i & 0xffff).toString(16)}`)!.text;

async function bansJson(config: string, extra: string[] = []) {
  const run = await f2bp2p(["-c", config, "bans", "--json", ...extra]);
  assert.equal(run.code, EXIT_OK, run.stderr);
  return JSON.parse(run.stdout) as {
    version: number;
    ips: { ip: string; score: number; ban: string; origins: { via: string; hops: number }[] }[];
  };
}

function fileSnapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const st = fs.statSync(full);
        const hash = crypto.createHash("sha256").update(fs.readFileSync(full)).digest("hex");
        out.set(full, `${st.mode.toString(8)} ${st.uid} ${st.size} ${st.mtimeMs} ${hash}`);
      } else out.set(full, "other");
    }
  };
  walk(dir);
  return out;
}

describe("durable state: crashes", () => {
  it("kill -9 in a stream of 2,000 concurrent reports: every acknowledged one is kept and banned once, here and at the friend", async () => {
    const p = await pair();
    const a = await runNode(p.config("a"));
    const b = await runNode(p.config("b"));
    await friendsConnected(p.socket("a"));
    const acknowledged = new Set<string>();
    let killed = false;
    const send = async (i: number): Promise<void> => {
      if (killed) return;
      try {
        const answer = await askNode(p.socket("a"), { op: "report", ip: attacker(i) }, 10_000);
        if (answer.ok && answer.status === "accepted") acknowledged.add(attacker(i));
      } catch {
        // the node died under this request: not acknowledged
      }
      if (acknowledged.size >= 1000 && !killed) {
        killed = true;
        a.child.kill("SIGKILL");
      }
    };
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < 2000; i++) {
      inFlight.push(send(i));
      if (inFlight.length >= 100) await Promise.all(inFlight.splice(0));
    }
    await Promise.all(inFlight);
    assert.equal(await a.exited, "SIGKILL");
    assert.ok(acknowledged.size >= 1000, `only ${acknowledged.size} acknowledged before the kill`);

    const again = await runNode(p.config("a"));
    const known = new Map((await bansJson(p.config("a"))).ips.map((e) => [e.ip, e]));
    for (const ip of acknowledged) {
      assert.equal(
        known.get(ip)?.ban,
        "written",
        `${ip} acknowledged but ${known.get(ip)?.ban ?? "missing"}`,
      );
    }
    const counts = banCounts(p.bansLog("a"));
    for (const ip of acknowledged)
      assert.equal(counts.get(ip), 1, `${ip} in a's bans log ${counts.get(ip)} times`);
    for (const [ip, n] of counts) assert.equal(n, 1, `${ip} written ${n} times`);
    // What the store holds beyond the acknowledged ones (in flight at the kill) is banned once too.
    for (const e of known.values()) assert.equal(e.ban, "written", `${e.ip} left ${e.ban}`);
    // Reporting an acknowledged address again is a duplicate, not a second ban.
    const ip = [...acknowledged][0]!;
    const re = await f2bp2p(["-c", p.config("a"), "report", ip]);
    assert.equal(re.code, EXIT_OK, re.stderr);
    assert.match(re.stdout, /duplicate, score 100, banned here/);
    assert.equal(banCounts(p.bansLog("a")).get(ip), 1);
    // The friend gets every report a holds, also those committed but not yet sent at the kill
    // (catch-up sync), each banned once.
    await waitFor(
      () => {
        const atB = banCounts(p.bansLog("b"));
        return [...known.keys()].every((held) => atB.has(held));
      },
      60_000,
      "every report of a at b",
    );
    for (const [held, n] of banCounts(p.bansLog("b"))) assert.equal(n, 1, `${held} written ${n} times at b`);
    assert.deepEqual([...banCounts(p.bansLog("b")).keys()].sort(), [...known.keys()].sort());
    await Promise.all([again.stop(), b.stop()]);
  });

  it("kill -9 of the friend in a live stream: after its restart it has every report, each banned once", async () => {
    const p = await pair();
    const a = await runNode(p.config("a"));
    let b = await runNode(p.config("b"));
    await friendsConnected(p.socket("a"));
    const sent: string[] = [];
    for (let i = 0; i < 600; i++) {
      const ip = attacker(10_000 + i);
      const answer = await askNode(p.socket("a"), { op: "report", ip });
      assert.ok(answer.ok && answer.status === "accepted");
      sent.push(ip);
      if (i === 300) {
        b.child.kill("SIGKILL");
        assert.equal(await b.exited, "SIGKILL");
      }
      if (i === 450) b = await runNode(p.config("b"));
    }
    await waitFor(() => sent.every((ip) => banCounts(p.bansLog("b")).has(ip)), 60_000, "every report at b");
    const counts = banCounts(p.bansLog("b"));
    for (const ip of sent) assert.equal(counts.get(ip), 1, `${ip} in b's bans log ${counts.get(ip)} times`);
    await Promise.all([a.stop(), b.stop()]);
  });
});

describe("durable state: one node per state dir", () => {
  it("a second run on the same state dir is refused before it changes anything", async () => {
    const p = await pair();
    const a = await runNode(p.config("a"));
    assert.equal((await f2bp2p(["-c", p.config("a"), "report", attacker(1)])).code, EXIT_OK);
    // The ban line's "written" mark is committed up to half a second later: the snapshot must come
    // after it, or that commit would pass for the second run's doing.
    await waitFor(
      async () => (await bansJson(p.config("a"))).ips.every((e) => e.ban === "written"),
      20_000,
      "the ban marked written in a's store",
    );
    const home = path.dirname(p.config("a"));
    const before = fileSnapshot(home);
    const second = spawnRun(p.config("a"));
    assert.equal(await second.exited, EXIT_STATE);
    assert.match(second.stderr(), /state dir .*state is in use by another running f2bp2p node/);
    assert.deepEqual(fileSnapshot(home), before);
    // The first node never noticed: it still answers and accepts.
    const status = await f2bp2p(["-c", p.config("a"), "report", attacker(2)]);
    assert.equal(status.code, EXIT_OK, status.stderr);
    await a.stop();
  });
});

describe("durable state: what the store holds", () => {
  it("bans and bans --json list addresses, scores, origins and ban state from a running node's store", async () => {
    const p = await pair();
    const a = await runNode(p.config("a"));
    const b = await runNode(p.config("b"));
    await friendsConnected(p.socket("a"));
    assert.equal((await f2bp2p(["-c", p.config("a"), "report", "203.0.113.70", "--jail", "sshd"])).code, 0);
    assert.equal((await f2bp2p(["-c", p.config("a"), "report", "198.51.100.71"])).code, 0);
    await waitFor(() => banCounts(p.bansLog("b")).size === 2, 20_000, "both at b");
    // The store learns that a line is written with its next commit (at most half a second later).
    await waitFor(
      async () => (await bansJson(p.config("b"))).ips.every((e) => e.ban === "written"),
      20_000,
      "both marked written in b's store",
    );
    const json = await bansJson(p.config("b"));
    assert.equal(json.version, 1);
    assert.deepEqual(
      json.ips.map((e) => [e.ip, e.score, e.ban, e.origins[0]!.via, e.origins[0]!.hops]),
      [
        ["198.51.100.71", 100, "written", "a", 1],
        ["203.0.113.70", 100, "written", "a", 1],
      ],
    );
    const one = await bansJson(p.config("b"), ["--ip", "203.0.113.70"]);
    assert.deepEqual(
      one.ips.map((e) => e.ip),
      ["203.0.113.70"],
    );
    const table = await f2bp2p(["-c", p.config("b"), "bans", "--banned", "--sort", "score"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^IP\s+SCORE\s+BANNED\s+FIRST SEEN\s+EXPIRES\s+ORIGINS$/m);
    assert.match(table.stdout, /^203\.0\.113\.70\s+100\s+yes \d{4}-.*via a \(1 hop\)$/m);
    assert.match(table.stdout, /2 address\(es\); threshold 80/);
    const bad = await f2bp2p(["-c", p.config("b"), "bans", "--ip", "203.0.113.700"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /'203\.0\.113\.700' is not an IPv4 or IPv6 address/);
    await Promise.all([a.stop(), b.stop()]);
  });
});

describe("durable state: journal.bin of f2bp2p 0.1", () => {
  it("is imported once, every record checked, resyncing past a damaged length prefix", async () => {
    const p = await pair();
    const identity = loadIdentity(path.join(path.dirname(p.config("a")), "keys"));
    const now = Date.now();
    const records = Array.from({ length: 100 }, (_, i) => {
      const signed = signReport(
        { ip: attacker(20_000 + i), time: now - 60_000, origin: identity.signingPublicKey, jail: "sshd" },
        identity.signer,
      );
      return encodeRecord({ signed, trust: 100, via: VIA_SELF, path: [] });
    });
    // Record 40: one bit flipped in its length prefix, which used to end the replay there.
    records[40]![1]! ^= 0x04;
    // Record 60: a byte flipped inside the report (its IP text): the signature no longer holds.
    const r60 = records[60]!;
    r60[r60.length - 64 - 5]! ^= 0x01;
    fs.mkdirSync(p.stateDir("a"), { recursive: true });
    fs.writeFileSync(path.join(p.stateDir("a"), "journal.bin"), Buffer.concat(records));

    const a = await runNode(p.config("a"));
    const ips = new Set((await bansJson(p.config("a"))).ips.map((e) => e.ip));
    assert.equal(ips.size, 98);
    for (let i = 0; i < 100; i++)
      assert.equal(ips.has(attacker(20_000 + i)), i !== 40 && i !== 60, `record ${i}`);
    assert.match(
      a.stderr(),
      /imported journal\.bin into the state store; some of it was damaged and refused/,
    );
    assert.match(a.stderr(), /imported=98/);
    assert.ok(fs.existsSync(path.join(p.stateDir("a"), "journal.bin.imported")));
    assert.ok(!fs.existsSync(path.join(p.stateDir("a"), "journal.bin")));
    // The old node wrote their ban lines before journaling them: none is written a second time.
    assert.equal(banCounts(p.bansLog("a")).size, 0);
    await a.stop();
    const again = await runNode(p.config("a"));
    assert.doesNotMatch(again.stderr(), /imported journal/);
    await again.stop();
  });
});

describe("durable state: a damaged store stops the start and is kept as it is", () => {
  const damages: [string, (file: string) => void, RegExp][] = [
    [
      "truncated to half",
      (f) => fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2)),
      /damage|damaged|malformed/,
    ],
    ["a flipped byte in its header", (f) => flipByte(f, 3), /not an SQLite database/],
    ["a flipped byte in a page header", (f) => flipByte(f, 4096), /damage|damaged|malformed/],
    ["zero length", (f) => fs.truncateSync(f, 0), /the file is empty \(zero length\)/],
    [
      "written by a newer f2bp2p",
      (f) => {
        const db = new Database(f);
        db.pragma("user_version = 99");
        db.close();
      },
      /it was written by a newer f2bp2p \(schema 99; this one knows up to \d+\)/,
    ],
    [
      "a directory",
      (f) => {
        fs.rmSync(f);
        fs.mkdirSync(f);
      },
      /cannot open it|is a directory|EISDIR/,
    ],
  ];
  for (const [what, damage, found] of damages) {
    it(what, async () => {
      const p = await pair();
      const a = await runNode(p.config("a"));
      for (let i = 0; i < 300; i++) await askNode(p.socket("a"), { op: "report", ip: attacker(30_000 + i) });
      await a.stop();
      const file = path.join(p.stateDir("a"), "state.db");
      damage(file);
      const before = fileSnapshot(p.stateDir("a"));
      const run = spawnRun(p.config("a"));
      assert.equal(await run.exited, EXIT_STATE, run.stderr());
      assert.match(run.stderr(), new RegExp(`state store ${file.replace(/[.]/g, "\\.")}: `));
      assert.match(run.stderr(), found);
      assert.match(run.stderr(), /The file was left as it is/);
      assert.deepEqual(fileSnapshot(p.stateDir("a")), before);
    });
  }

  it("unreadable by the node's user", async (t) => {
    if (process.getuid?.() !== 0) {
      if (process.env.CI) assert.fail("needs root to run the node as another user");
      t.skip("needs root to run the node as another user (CI runs as root)");
      return;
    }
    const p = await pair();
    const a = await runNode(p.config("a"));
    await askNode(p.socket("a"), { op: "report", ip: attacker(31_000) });
    await a.stop();
    // The node runs as nobody; its whole home is nobody's except the store, which stays root's 0600.
    fs.chmodSync(p.files.dir, 0o755);
    chownTree(path.dirname(p.config("a")), 65534, 65534);
    const file = path.join(p.stateDir("a"), "state.db");
    for (const f of fs.readdirSync(p.stateDir("a")))
      if (f.startsWith("state.db")) fs.chownSync(path.join(p.stateDir("a"), f), 0, 0);
    const before = fileSnapshot(p.stateDir("a"));
    const run = spawnRun(p.config("a"), { uid: 65534, gid: 65534 });
    assert.equal(await run.exited, EXIT_STATE, run.stderr());
    assert.match(run.stderr(), new RegExp(`state store ${file.replace(/[.]/g, "\\.")}: permission denied`));
    assert.deepEqual(fileSnapshot(p.stateDir("a")), before);
  });
});

function flipByte(file: string, at: number): void {
  const fd = fs.openSync(file, "r+");
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0]! ^= 0xff;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
}

function chownTree(dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(full, uid, gid);
    else fs.chownSync(full, uid, gid);
  }
}
