import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openForWriting } from "../../src/ingest/open-writers.js";

/** A shell that opens `file` on descriptor 3 (`>>` to write, `<` to read), says so, and waits. */
async function holder(file: string, redirect: ">>" | "<"): Promise<ChildProcess> {
  const child = spawn("sh", ["-c", `exec 3${redirect}"$1"; echo ready; exec sleep 300`, "sh", file], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const [data] = (await once(child.stdout!, "data")) as [Buffer];
  assert.equal(data.toString(), "ready\n");
  return child;
}

async function stopped(child: ChildProcess): Promise<void> {
  const exit = once(child, "exit");
  child.kill("SIGKILL");
  await exit;
}

describe("openForWriting (/proc)", () => {
  it("yes while a process holds the file open for writing, not for a reader, no once it is gone", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "f2bp2p-writers-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "fail2ban.log.1");
    await writeFile(file, "x\n");
    const { dev, ino } = await stat(file, { bigint: true });
    // Without root, other users' processes cannot be read: "unknown" is then the honest answer.
    const nobodyWrites = await openForWriting(dev, ino);
    assert.equal(nobodyWrites, process.getuid?.() === 0 ? "no" : nobodyWrites);
    assert.ok(nobodyWrites === "no" || nobodyWrites === "unknown");

    const writer = await holder(file, ">>");
    t.after(() => writer.kill("SIGKILL"));
    assert.equal(await openForWriting(dev, ino), "yes");
    await stopped(writer);
    assert.equal(await openForWriting(dev, ino), nobodyWrites);

    const reader = await holder(file, "<");
    t.after(() => reader.kill("SIGKILL"));
    assert.equal(await openForWriting(dev, ino), nobodyWrites);
    await stopped(reader);
  });

  it("unknown where there is no /proc", async () => {
    assert.equal(await openForWriting(1n, 1n, "/nonexistent-proc"), "unknown");
  });
});
