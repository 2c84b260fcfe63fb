import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import {
  appendFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  truncate,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { LogFollower, type LogFollowerOptions, MAX_LINE_BYTES } from "../../src/ingest/log-follower.js";
import { waitFor } from "../helpers/wait.js";

/** No safety poll during a test unless asked: lines must arrive through fs.watch. */
const NO_POLL = 3_600_000;

let dir: string;
let logPath: string;
let posPath: string;
const running: LogFollower[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "f2bp2p-follow-"));
  logPath = join(dir, "fail2ban.log");
  posPath = join(dir, "state", "fail2ban-log.pos.json");
});

afterEach(async () => {
  for (const f of running.splice(0)) await f.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Harness {
  readonly follower: LogFollower;
  readonly lines: string[];
  readonly batches: string[][];
  readonly errors: unknown[];
}

async function follow(opts: Partial<LogFollowerOptions> = {}): Promise<Harness> {
  const lines: string[] = [];
  const batches: string[][] = [];
  const errors: unknown[] = [];
  const follower = new LogFollower({
    path: logPath,
    positionFile: posPath,
    pollIntervalMs: NO_POLL,
    onLines: (batch) => {
      batches.push([...batch]);
      lines.push(...batch);
    },
    onError: (err) => errors.push(err),
    ...opts,
  });
  running.push(follower);
  await follower.start();
  return { follower, lines, batches, errors };
}

async function stopAll(): Promise<void> {
  for (const f of running.splice(0)) await f.stop();
}

function hasLines(h: { lines: string[] }, ...want: string[]): () => boolean {
  return () => want.every((w) => h.lines.includes(w));
}

describe("LogFollower", () => {
  it("starts at the end on first start, then delivers appended lines at once (fs.watch)", async () => {
    await writeFile(logPath, "old 1\nold 2\n");
    const h = await follow();
    await appendFile(logPath, "new 1\nnew 2\n");
    await waitFor(hasLines(h, "new 1", "new 2"), 5000, "appended lines");
    assert.deepEqual(h.lines, ["new 1", "new 2"]);
    assert.deepEqual(h.errors, []);
  });

  it("holds a partial line until it is complete", async () => {
    await writeFile(logPath, "");
    const h = await follow();
    // One write: the follower reads "line1" and the partial "part" together.
    await appendFile(logPath, "line1\npart");
    await waitFor(hasLines(h, "line1"), 5000, "line1");
    assert.deepEqual(h.lines, ["line1"]);
    await appendFile(logPath, "ial\n");
    await waitFor(hasLines(h, "partial"), 5000, "completed line");
    assert.deepEqual(h.lines, ["line1", "partial"]);
  });

  it("a partial last line that was there at first start is delivered once complete", async () => {
    await writeFile(logPath, "old\nhalf");
    const h = await follow();
    await appendFile(logPath, " done\n");
    await waitFor(hasLines(h, "half done"), 5000, "completed line");
    assert.deepEqual(h.lines, ["half done"]);
  });

  it("follows a rename rotation: finishes the old file, then reads the new one from 0", async () => {
    await writeFile(logPath, "");
    const h = await follow({ rotateGraceMs: 0 });
    await appendFile(logPath, "before\n");
    await waitFor(hasLines(h, "before"), 5000, "before");
    await appendFile(logPath, "old last\n");
    await rename(logPath, `${logPath}.1`);
    // The writer still has the old file open until it reopens its log.
    await appendFile(`${logPath}.1`, "old after rename\nold unterminated");
    await writeFile(logPath, "new 1\n");
    await waitFor(hasLines(h, "new 1"), 5000, "first line of the new file");
    await appendFile(logPath, "new 2\n");
    await waitFor(hasLines(h, "new 2"), 5000, "second line of the new file");
    assert.deepEqual(h.lines, [
      "before",
      "old last",
      "old after rename",
      "old unterminated",
      "new 1",
      "new 2",
    ]);
  });

  it("still reads the old file after the new one appeared (logrotate: create, then postrotate)", async () => {
    await writeFile(logPath, "");
    const h = await follow({ rotateGraceMs: 300, pollIntervalMs: 50 });
    await rename(logPath, `${logPath}.1`);
    await writeFile(logPath, "new 1\n"); // logrotate's `create`, then a first line
    await waitFor(hasLines(h, "new 1"), 5000, "new file");
    // fail2ban writes to the old file until `fail2ban-client flushlogs` runs.
    await appendFile(`${logPath}.1`, "late old\n");
    await waitFor(hasLines(h, "late old"), 5000, "late line in the old file");
    await appendFile(`${logPath}.1`, "late unterminated");
    await waitFor(
      hasLines(h, "late unterminated"),
      5000,
      "unterminated last line once the old file is quiet",
    );
    await appendFile(logPath, "new 2\n");
    await waitFor(hasLines(h, "new 2"), 5000, "new 2");
    assert.deepEqual(h.lines, ["new 1", "late old", "late unterminated", "new 2"]);
  });

  it("logrotate without reopen: a ban written to the rotated file 35 s later is still delivered", async () => {
    let clock = 1_000_000;
    await writeFile(logPath, "");
    const h = await follow({ rotateGraceMs: 30_000, now: () => clock });
    await rename(logPath, `${logPath}.1`);
    await writeFile(logPath, ""); // logrotate's `create`; postrotate does not make the writer reopen
    await appendFile(`${logPath}.1`, "still old 1\n");
    await waitFor(hasLines(h, "still old 1"), 5000, "line in the rotated file");
    clock += 35_000;
    await appendFile(`${logPath}.1`, "still old 2\n");
    await waitFor(hasLines(h, "still old 2"), 5000, "line 35 s later in the rotated file");
    clock += 3_600_000;
    await appendFile(`${logPath}.1`, "still old 3\n");
    await waitFor(hasLines(h, "still old 3"), 5000, "line an hour later in the rotated file");
    assert.deepEqual(h.lines, ["still old 1", "still old 2", "still old 3"]);
    assert.deepEqual(h.errors, []);
  });

  it("a rotated file that grows after the new file got lines and it was left: delivered and reported", async () => {
    let clock = 1_000_000;
    await writeFile(logPath, "");
    const h = await follow({ rotateGraceMs: 30_000, now: () => clock });
    await rename(logPath, `${logPath}.1`);
    await writeFile(logPath, "new 1\n");
    await waitFor(hasLines(h, "new 1"), 5000, "new file");
    clock += 30_000;
    await appendFile(logPath, "new 2\n"); // the check that leaves the quiet rotated file
    await waitFor(hasLines(h, "new 2"), 5000, "new 2");
    assert.deepEqual(h.errors, []);
    await appendFile(`${logPath}.1`, "late in old\n");
    await waitFor(hasLines(h, "late in old"), 5000, "late line in the left file");
    assert.deepEqual(h.lines, ["new 1", "new 2", "late in old"]);
    assert.equal(h.errors.length, 1);
    assert.match(
      String(h.errors[0]),
      /fail2ban\.log\.1: rotated log still written after .*fail2ban\.log received lines/,
    );
  });

  it("a rotated file a process still holds open for writing is never left, even after the new file got lines", async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip("needs root to read other processes' descriptors in /proc");
      return;
    }
    let clock = 1_000_000;
    await writeFile(logPath, "");
    const h = await follow({ rotateGraceMs: 30_000, now: () => clock });
    // The writer opens the log once and keeps it, as fail2ban does; it appends a line per input line.
    const writer = spawn(
      "sh",
      ["-c", 'exec 3>>"$1"; echo ready; while read -r l; do echo "$l" >&3; done', "sh", logPath],
      {
        stdio: ["pipe", "pipe", "ignore"],
      },
    );
    t.after(() => writer.kill("SIGKILL"));
    await once(writer.stdout!, "data");
    await rename(logPath, `${logPath}.1`);
    await writeFile(logPath, "new 1\n");
    await waitFor(hasLines(h, "new 1"), 5000, "new file");
    clock += 60_000;
    await appendFile(logPath, "new 2\n"); // a check after the grace period: the writer still holds .1
    await waitFor(hasLines(h, "new 2"), 5000, "new 2");
    writer.stdin!.write("held 1\n");
    await waitFor(hasLines(h, "held 1"), 5000, "line from the writer that never reopened");
    assert.deepEqual(h.lines, ["new 1", "new 2", "held 1"]);
    assert.deepEqual(h.errors, []); // not left, so its growth is no surprise
  });

  it("keeps reading the old file while the path is missing after a rename", async () => {
    await writeFile(logPath, "");
    const h = await follow();
    await rename(logPath, `${logPath}.1`);
    await appendFile(`${logPath}.1`, "late old\n");
    await waitFor(hasLines(h, "late old"), 5000, "line in renamed file");
    await writeFile(logPath, "new\n");
    await waitFor(hasLines(h, "new"), 5000, "new file");
    assert.deepEqual(h.lines, ["late old", "new"]);
  });

  it("follows a copytruncate rotation: starts again from 0 when the file shrinks", async () => {
    await writeFile(logPath, "");
    const h = await follow();
    await appendFile(logPath, "a rather long line before the rotation\nanother long line before it\n");
    await waitFor(hasLines(h, "another long line before it"), 5000, "lines before truncation");
    // logrotate copytruncate: copy, then truncate in place; the writer (O_APPEND) goes on at 0.
    await writeFile(`${logPath}.1`, await readFile(logPath));
    await truncate(logPath, 0);
    await appendFile(logPath, "after 1\n");
    await waitFor(hasLines(h, "after 1"), 5000, "line after truncation");
    await appendFile(logPath, "after 2\n");
    await waitFor(hasLines(h, "after 2"), 5000, "second line after truncation");
    assert.deepEqual(h.lines, [
      "a rather long line before the rotation",
      "another long line before it",
      "after 1",
      "after 2",
    ]);
  });

  it("after a restart continues where it stopped and never delivers old lines again", async () => {
    await writeFile(logPath, "history\n");
    const first = await follow();
    await appendFile(logPath, "one\n");
    await waitFor(hasLines(first, "one"), 5000, "one");
    await stopAll();
    await appendFile(logPath, "two (while stopped)\n");
    const second = await follow();
    await waitFor(hasLines(second, "two (while stopped)"), 5000, "line written while stopped");
    await appendFile(logPath, "three\n");
    await waitFor(hasLines(second, "three"), 5000, "three");
    assert.deepEqual(first.lines, ["one"]);
    assert.deepEqual(second.lines, ["two (while stopped)", "three"]);
  });

  it("a restart with nothing new delivers nothing", async () => {
    await writeFile(logPath, "");
    const first = await follow();
    await appendFile(logPath, "x\n");
    await waitFor(hasLines(first, "x"), 5000, "x");
    await stopAll();
    const second = await follow();
    await appendFile(logPath, "y\n");
    await waitFor(hasLines(second, "y"), 5000, "y");
    assert.deepEqual(second.lines, ["y"]);
  });

  it("after a restart, finishes a file rotated while stopped (found by inode), then the new one", async () => {
    await writeFile(logPath, "");
    const first = await follow();
    await appendFile(logPath, "seen\n");
    await waitFor(hasLines(first, "seen"), 5000, "seen");
    await stopAll();
    await appendFile(logPath, "unseen old\n");
    await rename(logPath, `${logPath}.1`);
    await writeFile(logPath, "unseen new\n");
    const second = await follow();
    await waitFor(hasLines(second, "unseen new"), 5000, "new file");
    assert.deepEqual(second.lines, ["unseen old", "unseen new"]);
  });

  it("after a restart, reads a file truncated while stopped from 0", async () => {
    await writeFile(logPath, "");
    const first = await follow();
    await appendFile(logPath, "a line long enough to be past the new end\n");
    await waitFor(() => first.lines.length === 1, 5000, "first line");
    await stopAll();
    await truncate(logPath, 0);
    await appendFile(logPath, "fresh\n");
    const second = await follow();
    await waitFor(hasLines(second, "fresh"), 5000, "fresh");
    assert.deepEqual(second.lines, ["fresh"]);
  });

  it("redelivers the same lines when onLines rejects, and saves the position only after success", async () => {
    await writeFile(logPath, "");
    let calls = 0;
    const seen: string[][] = [];
    const h = await follow({
      pollIntervalMs: 50,
      onLines: async (batch) => {
        calls++;
        seen.push([...batch]);
        if (calls === 1) throw new Error("node unreachable");
      },
    });
    await appendFile(logPath, "r1\nr2\n");
    await waitFor(() => calls >= 2, 5000, "redelivery");
    assert.deepEqual(seen[0], ["r1", "r2"]);
    assert.deepEqual(seen[1], ["r1", "r2"]);
    assert.equal((h.errors[0] as Error).message, "node unreachable");
    await stopAll();
    const pos = JSON.parse(await readFile(posPath, "utf8")) as { offset: number };
    assert.equal(pos.offset, "r1\nr2\n".length);
  });

  it("a rejected batch is not lost across a restart", async () => {
    await writeFile(logPath, "");
    let fail = true;
    let attempts = 0;
    await follow({
      onLines: () => {
        attempts++;
        if (fail) throw new Error("down");
      },
    });
    await appendFile(logPath, "keep me\n");
    await waitFor(() => attempts >= 1, 5000, "first attempt");
    await stopAll();
    fail = false;
    const second = await follow();
    await waitFor(hasLines(second, "keep me"), 5000, "redelivery after restart");
    assert.deepEqual(second.lines, ["keep me"]);
  });

  it("the safety poll alone delivers lines (fs.watch off, as on network filesystems)", async () => {
    await writeFile(logPath, "");
    const h = await follow({ pollIntervalMs: 50, watch: false });
    await appendFile(logPath, "polled\n");
    await waitFor(hasLines(h, "polled"), 5000, "polled line");
    assert.deepEqual(h.lines, ["polled"]);
  });

  it("drops a line longer than 64 KiB (complete or still growing) and reports it", async () => {
    await writeFile(logPath, "");
    const h = await follow();
    await appendFile(logPath, `${"x".repeat(MAX_LINE_BYTES + 10)}\nafter long\n`);
    await waitFor(hasLines(h, "after long"), 5000, "line after a long one");
    assert.deepEqual(h.lines, ["after long"]);
    assert.equal(h.errors.length, 1);
    assert.match(String(h.errors[0]), /longer than/);

    // A growing line with no end: dropped without buffering, its end is skipped too.
    await appendFile(logPath, "y".repeat(MAX_LINE_BYTES + 10));
    await waitFor(() => h.errors.length === 2, 5000, "second drop");
    await appendFile(logPath, `${"y".repeat(100)}\nok\n`);
    await waitFor(hasLines(h, "ok"), 5000, "line after the dropped one");
    assert.deepEqual(h.lines, ["after long", "ok"]);
  });

  it("waits for a missing file and reads it from 0 when it appears", async () => {
    const h = await follow();
    await writeFile(logPath, "first\nsecond\n");
    await waitFor(hasLines(h, "first", "second"), 5000, "lines of the new file");
    assert.deepEqual(h.lines, ["first", "second"]);
  });

  it("keeps a small JSON position (device, inode, offset), written atomically", async () => {
    await writeFile(logPath, "abc\n");
    const h = await follow();
    await appendFile(logPath, "defg\n");
    await waitFor(hasLines(h, "defg"), 5000, "defg");
    await stopAll();
    const st = await stat(logPath, { bigint: true });
    const pos = JSON.parse(await readFile(posPath, "utf8")) as Record<string, unknown>;
    assert.equal(pos.dev, String(st.dev));
    assert.equal(pos.ino, String(st.ino));
    assert.equal(pos.offset, 9);
    assert.deepEqual(await readdir(join(dir, "state")), ["fail2ban-log.pos.json"]);
  });

  it("an unreadable position file means a first start (end of file), with onError", async () => {
    await writeFile(logPath, "old\n");
    await mkdir(join(dir, "state"));
    await writeFile(posPath, "{not json");
    const h = await follow();
    await appendFile(logPath, "new\n");
    await waitFor(hasLines(h, "new"), 5000, "new");
    assert.deepEqual(h.lines, ["new"]);
    assert.equal(h.errors.length, 1);
  });

  it("delivers batches in order when many lines arrive quickly", async () => {
    await writeFile(logPath, "");
    const h = await follow();
    const want: string[] = [];
    for (let i = 0; i < 200; i++) {
      want.push(`line ${i}`);
      await appendFile(logPath, `line ${i}\n`);
    }
    await waitFor(() => h.lines.length >= want.length, 5000, "all lines");
    assert.deepEqual(h.lines, want);
  });
});
