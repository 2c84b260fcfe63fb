import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import YAML from "yaml";
import { askNode } from "../../src/cli/control-client.js";
import { EXIT_FAILURE, EXIT_NOT_WRITTEN, EXIT_OK } from "../../src/cli/exit-codes.js";
import { writeNetworkFiles } from "../../src/demo/local-network.js";
import { banCounts, f2bp2p, friendsConnected, killAll, runNode } from "../helpers/node-process.js";
import { waitFor } from "../helpers/wait.js";

const cleanups: (() => void)[] = [];
after(() => {
  killAll();
  for (const c of cleanups.reverse()) c();
});

/** A small tmpfs of our own: the only way to make a disk really full. Needs root (CI runs as root). */
function smallDisk(t: TestContext, sizeKiB: number): string | null {
  if (process.getuid?.() !== 0) {
    if (process.env.CI) assert.fail("a full-disk test needs root to mount a tmpfs");
    t.skip("needs root to mount a small tmpfs (CI runs as root)");
    return null;
  }
  const dir = fs.mkdtempSync("/tmp/f2bp2p-disk-");
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKiB}k,mode=0755`, "tmpfs", dir]);
  cleanups.push(() => {
    execFileSync("umount", ["-l", dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Fills the disk under `dir` to the last byte; returns the filler, whose removal frees it again. */
function fill(dir: string): string {
  const filler = path.join(dir, "filler");
  const fd = fs.openSync(filler, "w");
  const chunk = Buffer.alloc(4096, 0x2e);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  }
  try {
    for (;;) fs.writeSync(fd, chunk, 0, 1);
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  }
  fs.closeSync(fd);
  return filler;
}

async function pair(overrides: Record<string, Record<string, string>>) {
  const files = await writeNetworkFiles({
    nodes: [{ name: "a" }, { name: "b" }],
    links: [["a", "b", 100, 100]],
  });
  cleanups.push(() => fs.rmSync(files.dir, { recursive: true, force: true }));
  for (const [name, keys] of Object.entries(overrides)) {
    const file = files.configs.get(name)!;
    fs.writeFileSync(file, YAML.stringify({ ...YAML.parse(fs.readFileSync(file, "utf8")), ...keys }));
  }
  return {
    config: (n: string) => files.configs.get(n)!,
    socket: (n: string) => path.join(files.dir, n, "control.sock"),
    bansLog: (n: string) => path.join(files.dir, n, "bans.log"),
  };
}

/** Every line ends in a newline and is either padding or a whole BAN line: nothing glued together. */
function assertWholeLines(file: string): void {
  const text = fs.readFileSync(file, "utf8");
  assert.ok(text === "" || text.endsWith("\n"), "file ends in a partial line");
  for (const line of text.slice(0, -1).split("\n")) {
    assert.match(
      line,
      /^(# padding x*|\S+Z BAN \S+ score=\d+ origin=[0-9a-f]{12} hops=\d+)$/,
      `bad line: ${line}`,
    );
  }
}

describe("full disk", () => {
  it("bans log: report exits 4 and says why, nothing is glued, the line is written once the disk is back", async (t) => {
    const disk = smallDisk(t, 64);
    if (disk === null) return;
    const p = await pair({
      a: { bans_log: path.join(disk, "a.log") },
      b: { bans_log: path.join(disk, "b.log") },
    });
    // a's bans log ends 30 bytes short of a page: the next line half fits, then the disk is full.
    fs.writeFileSync(path.join(disk, "a.log"), `# padding ${"x".repeat(4096 - 30 - 11)}\n`);
    const a = await runNode(p.config("a"));
    const b = await runNode(p.config("b"));
    await friendsConnected(p.socket("a"));
    const filler = fill(disk);

    const first = await f2bp2p(["-c", p.config("a"), "report", "203.0.113.80"]);
    assert.equal(first.code, EXIT_NOT_WRITTEN, first.stderr);
    assert.equal(first.stdout, "203.0.113.80: accepted, score 100, sent to friends\n");
    assert.match(first.stderr, /ban not written here yet: bans log .*a\.log: no space left on device/);
    const second = await f2bp2p(["-c", p.config("a"), "report", "203.0.113.81"]);
    assert.equal(second.code, EXIT_NOT_WRITTEN, second.stderr);
    assertWholeLines(path.join(disk, "a.log"));
    assert.equal(banCounts(path.join(disk, "a.log")).size, 0);
    // b got both (a shared them) but cannot write them either: pending in its store.
    await waitFor(
      async () => {
        const run = await f2bp2p(["-c", p.config("b"), "bans", "--json"]);
        const ips = (JSON.parse(run.stdout) as { ips: { ip: string; ban: string }[] }).ips;
        return ips.length === 2 && ips.every((e) => e.ban === "pending");
      },
      20_000,
      "both pending at b",
    );
    // One error line per cause, however often it was tried.
    assert.equal(a.stderr().match(/ERROR .*bans log write failed/g)?.length, 1, a.stderr());
    assert.equal((await f2bp2p(["-c", p.config("a"), "status"])).code, EXIT_OK);

    fs.rmSync(filler);
    for (const node of ["a", "b"]) {
      await waitFor(
        () => banCounts(path.join(disk, `${node}.log`)).size === 2,
        20_000,
        `${node}'s lines written`,
      );
      assertWholeLines(path.join(disk, `${node}.log`));
      for (const n of banCounts(path.join(disk, `${node}.log`)).values()) assert.equal(n, 1);
    }
    const again = await f2bp2p(["-c", p.config("a"), "report", "203.0.113.80"]);
    assert.equal(again.code, EXIT_OK, again.stderr);
    assert.equal(again.stdout, "203.0.113.80: duplicate, score 100, banned here\n");
    await Promise.all([a.stop(), b.stop()]);
  });

  it("state store: report exits 1 and says why, friends' messages wait, all is applied once the disk is back", async (t) => {
    const disk = smallDisk(t, 1024);
    if (disk === null) return;
    const p = await pair({ a: { state_dir: path.join(disk, "state") } });
    const a = await runNode(p.config("a"));
    const b = await runNode(p.config("b"));
    await friendsConnected(p.socket("a"));
    const filler = fill(disk);

    // The spool is on the same full disk: the report can be neither stored nor queued, and says both.
    const own = await f2bp2p(["-c", p.config("a"), "report", "198.51.100.90"]);
    assert.equal(own.code, EXIT_FAILURE, own.stderr);
    assert.match(own.stderr, /the node could not store it: state store .*state\.db: no space left on device/);
    assert.match(own.stderr, /not spooled: cannot write to spool folder .*: no space left on the device/);
    // b's report reaches a while a cannot store it: it waits in a's memory.
    assert.equal((await f2bp2p(["-c", p.config("b"), "report", "198.51.100.91"])).code, EXIT_OK);
    await waitFor(
      async () => {
        const s = await askNode(p.socket("a"), { op: "status" });
        return (
          s.ok && s.status === "status" && (s.node.store as { pendingMessages: number }).pendingMessages > 0
        );
      },
      20_000,
      "b's message waiting at a",
    );
    assert.equal(a.child.exitCode, null);
    assert.equal(a.stderr().match(/ERROR .*store write failed/g)?.length, 1, a.stderr());

    fs.rmSync(filler);
    await waitFor(
      () => banCounts(p.bansLog("a")).get("198.51.100.91") === 1,
      20_000,
      "b's report applied at a",
    ).catch((err: Error) => assert.fail(`${err.message}; a's log: ${a.stderr()}`));
    const retry = await f2bp2p(["-c", p.config("a"), "report", "198.51.100.90"]);
    assert.equal(retry.code, EXIT_OK, retry.stderr);
    assert.equal(retry.stdout, "198.51.100.90: accepted, score 100, banned here\n");
    await Promise.all([a.stop(), b.stop()]);
  });
});

describe("bans log replaced while the node runs", () => {
  it("deleted: the next ban recreates it; SIGHUP with a directory in the way keeps the old file", async () => {
    const p = await pair({});
    const a = await runNode(p.config("a"));
    const log = p.bansLog("a");
    assert.equal((await f2bp2p(["-c", p.config("a"), "report", "192.0.2.201"])).code, EXIT_OK);
    fs.rmSync(log);
    assert.equal((await f2bp2p(["-c", p.config("a"), "report", "192.0.2.202"])).code, EXIT_OK);
    assert.deepEqual([...banCounts(log).keys()], ["192.0.2.202"]);
    assert.match(a.stderr(), /bans log was deleted or replaced; recreated/);

    fs.renameSync(log, `${log}.1`);
    fs.mkdirSync(log);
    a.child.kill("SIGHUP");
    await waitFor(
      () => /cannot reopen the bans log; still writing to the old file/.test(a.stderr()),
      10_000,
      "reopen refusal",
    );
    assert.match(a.stderr(), /is a directory/);
    const third = await f2bp2p(["-c", p.config("a"), "report", "192.0.2.203"]);
    assert.equal(third.code, EXIT_OK, third.stderr);
    assert.deepEqual([...banCounts(`${log}.1`).keys()], ["192.0.2.202", "192.0.2.203"]);
    assert.equal(a.child.exitCode, null);
    fs.rmdirSync(log);
    a.child.kill("SIGHUP");
    await waitFor(() => /bans log reopened/.test(a.stderr()) || fs.existsSync(log), 10_000, "reopened");
    assert.equal((await f2bp2p(["-c", p.config("a"), "report", "192.0.2.204"])).code, EXIT_OK);
    assert.deepEqual([...banCounts(log).keys()], ["192.0.2.204"]);
    await a.stop();
  });
});
