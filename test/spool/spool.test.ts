import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it, type TestContext } from "node:test";
import { type IntakeVerdict, SpoolIntake } from "../../src/spool/intake.js";
import {
  decodeSpooled,
  encodeSpooled,
  isSpoolFileName,
  SPOOL_TMP_PREFIX,
  type SpooledReport,
  spoolFileName,
} from "../../src/spool/spool-file.js";
import { spoolReport } from "../../src/spool/write.js";
import { silentLogger } from "../../src/util/logger.js";

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-spool-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const report = (n: number): SpooledReport => ({
  ip: `203.0.113.${n}`,
  jail: "sshd",
  time: 1_764_500_000_000 + n,
});

describe("spool file names and format", () => {
  it("names sort by wall time, then by the monotonic clock, and are recognised", () => {
    const names = [
      spoolFileName(1_764_500_000_001, 5n, 10, 0xffffffff),
      spoolFileName(1_764_500_000_000, 9n, 99, 0),
      spoolFileName(1_764_500_000_000, 10n, 1, 0xabc),
    ];
    assert.deepEqual([...names].sort(), [names[1], names[2], names[0]]);
    for (const name of names) assert.ok(isSpoolFileName(name), name);
    for (const name of [
      "x.report",
      `${SPOOL_TMP_PREFIX}${names[0]}`,
      names[0]!.replace(".report", ".txt"),
      "bad",
    ])
      assert.equal(isSpoolFileName(name), false, name);
  });

  it("decodes what it encodes, and names what is wrong with a damaged file", () => {
    assert.deepEqual(decodeSpooled(encodeSpooled(report(1))), report(1));
    const line = (o: unknown) => `${JSON.stringify(o)}\n`;
    const cases: [string, string][] = [
      ["", "incomplete (no final newline)"],
      [encodeSpooled(report(1)).slice(0, -1), "incomplete (no final newline)"],
      ["{x\n", "not JSON"],
      ["[1]\n", "not an object"],
      [line({ v: 2, ip: "203.0.113.1", jail: "", time: 1 }), "unknown format version 2"],
      [line({ v: 1, jail: "", time: 1 }), "no address"],
      [line({ v: 1, ip: "203.0.113.1", jail: 5, time: 1 }), "bad jail field"],
      [line({ v: 1, ip: "203.0.113.1", jail: "", time: 1.5 }), "bad time"],
      [line({ v: 1, ip: "203.0.113.1", jail: "", time: -1 }), "bad time"],
      [`${"x".repeat(2000)}\n`, "larger than a report"],
    ];
    for (const [text, damaged] of cases) assert.deepEqual(decodeSpooled(text), { damaged }, text);
  });
});

describe("spoolReport", () => {
  it("writes one complete file per report, mode 0640, in a folder it creates with mode 2770", (t) => {
    const dir = path.join(tempDir(t), "state", "spool");
    const first = spoolReport(dir, report(1));
    const second = spoolReport(dir, report(2));
    assert.ok(first.ok && second.ok);
    assert.equal(first.warning, undefined);
    assert.deepEqual(fs.readdirSync(dir).sort(), [path.basename(first.file), path.basename(second.file)]);
    assert.equal(fs.readFileSync(first.file, "utf8"), encodeSpooled(report(1)));
    assert.equal(fs.statSync(first.file).mode & 0o777, 0o640);
    assert.equal(fs.statSync(dir).mode & 0o7777, 0o2770);
    assert.equal(fs.statSync(path.dirname(dir)).mode & 0o7777, 0o750, "the state dir's mode");
  });

  it("refuses, with the reason, when the spool is full or cannot be written", (t) => {
    const dir = tempDir(t);
    for (let i = 0; i < 3; i++) assert.ok(spoolReport(dir, report(i), 3).ok);
    const full = spoolReport(dir, report(9), 3);
    assert.deepEqual(full.ok, false);
    assert.match(
      !full.ok ? full.reason : "",
      /is full \(3 reports waiting, the limit is 3\): start the node/,
    );
    assert.equal(fs.readdirSync(dir).length, 3, "nothing left behind");

    const file = path.join(dir, "a-file");
    fs.writeFileSync(file, "");
    const notFolder = spoolReport(file, report(1));
    assert.match(!notFolder.ok ? notFolder.reason : "", /cannot use spool folder .*a-file: not a folder/);
  });
});

describe("SpoolIntake", () => {
  it("takes files in name order, removes each after apply, sets aside refused and damaged ones", async (t) => {
    const dir = tempDir(t);
    const files = [5, 3, 4].map((n) => spoolReport(dir, report(n)));
    fs.writeFileSync(path.join(dir, spoolFileName(1, 1n, 1, 1)), "garbage");
    fs.writeFileSync(path.join(dir, "README"), "not a report: left alone\n");
    const applied: string[] = [];
    const intake = new SpoolIntake({
      dir,
      log: silentLogger(),
      now: Date.now,
      apply: (r): IntakeVerdict => {
        applied.push(r.ip);
        return r.ip === "203.0.113.4"
          ? { kind: "refused", reason: "test" }
          : { kind: "done", status: "accepted" };
      },
    });
    await intake.start();
    t.after(() => intake.stop());
    assert.deepEqual(
      applied,
      ["203.0.113.5", "203.0.113.3", "203.0.113.4"],
      "in the order they were written",
    );
    assert.deepEqual(fs.readdirSync(dir).sort(), ["README", "bad"]);
    assert.deepEqual(
      fs.readdirSync(path.join(dir, "bad")).sort(),
      [spoolFileName(1, 1n, 1, 1), path.basename(files[2]!.ok ? files[2]!.file : "")].sort(),
    );
    assert.deepEqual(intake.stats, { taken: 2, setAside: 2 });
  });

  it("a report whose apply throws is kept and not retried until restart; the rest go on", async (t) => {
    const dir = tempDir(t);
    spoolReport(dir, report(1));
    spoolReport(dir, report(2));
    let calls = 0;
    const intake = new SpoolIntake({
      dir,
      log: silentLogger(),
      now: Date.now,
      apply: (r): IntakeVerdict => {
        calls++;
        if (r.ip === "203.0.113.1") throw new Error("store failed");
        return { kind: "done", status: "accepted" };
      },
    });
    await intake.start();
    t.after(() => intake.stop());
    await intake.drain();
    assert.equal(calls, 2, "the failing one is not retried in a loop");
    assert.equal(fs.readdirSync(dir).filter((n) => n.endsWith(".report")).length, 1);
  });

  it("while the node cannot commit, files stay in order and go in once it can", async (t) => {
    const dir = tempDir(t);
    for (const n of [1, 2, 3]) spoolReport(dir, report(n));
    let storeWorks = false;
    const applied: string[] = [];
    const intake = new SpoolIntake({
      dir,
      log: silentLogger(),
      now: Date.now,
      apply: (r): IntakeVerdict => {
        if (!storeWorks) return { kind: "later", reason: "disk full" };
        applied.push(r.ip);
        return { kind: "done", status: "accepted" };
      },
    });
    await intake.start();
    t.after(() => intake.stop());
    assert.equal(fs.readdirSync(dir).filter((n) => n.endsWith(".report")).length, 3);
    storeWorks = true;
    await intake.drain();
    assert.deepEqual(applied, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it("a spool folder removed while the node runs is made again and still taken in", async (t) => {
    const base = tempDir(t);
    const dir = path.join(base, "spool");
    const applied: string[] = [];
    const intake = new SpoolIntake({
      dir,
      log: silentLogger(),
      now: Date.now,
      apply: (r): IntakeVerdict => {
        applied.push(r.ip);
        return { kind: "done", status: "accepted" };
      },
    });
    await intake.start();
    t.after(() => intake.stop());
    fs.rmSync(dir, { recursive: true });
    await intake.drain();
    assert.ok(fs.statSync(dir).isDirectory());
    spoolReport(dir, report(7));
    await intake.drain();
    assert.deepEqual(applied, ["203.0.113.7"]);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it("removes temporary files left by a writer that died long ago, keeps fresh ones", async (t) => {
    const dir = tempDir(t);
    const old = path.join(dir, `${SPOOL_TMP_PREFIX}old`);
    const fresh = path.join(dir, `${SPOOL_TMP_PREFIX}fresh`);
    fs.writeFileSync(old, "{");
    fs.writeFileSync(fresh, "{");
    const hourAgo = new Date(Date.now() - 2 * 3_600_000);
    fs.utimesSync(old, hourAgo, hourAgo);
    const intake = new SpoolIntake({
      dir,
      log: silentLogger(),
      now: Date.now,
      apply: () => ({ kind: "done", status: "accepted" }),
    });
    await intake.start();
    t.after(() => intake.stop());
    assert.deepEqual(fs.readdirSync(dir), [path.basename(fresh)]);
  });
});
