/**
 * The body of the background checkpointer (checkpointer.ts), run on a worker thread: its own
 * connection to the node's state.db copies committed pages from the write-ahead log back into the
 * database (a PASSIVE checkpoint: it never blocks the node's writes, and skips what a reader holds)
 * once the WAL holds `pages` pages not yet copied, as SQLite's own wal_autocheckpoint would; it looks
 * every `pollMs`. Any error ends the thread; the node's connection then checkpoints by itself again.
 */
import fs from "node:fs";
import os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

const { file, pollMs, pages, nice } = workerData as {
  file: string;
  pollMs: number;
  pages: number;
  nice: number;
};

try {
  // Pid 0: this thread alone (Linux keeps a nice value per thread).
  os.setPriority(0, nice);
} catch {
  // Not allowed or not supported here: the thread runs at the node's priority.
}

/**
 * The WAL-index (`state.db-shm`, https://www.sqlite.org/walformat.html section 2.2.1), in the
 * host's byte order: mxFrame, the last frame of the WAL, at byte 16 of the header; nBackfill, the
 * frames already copied into the database, at byte 96. Read without a lock: a torn read only moves
 * one checkpoint a little earlier or later.
 */
const MX_FRAME_AT = 16;
const N_BACKFILL_AT = 96;

const db = new Database(file, { fileMustExist: true });
const index = fs.openSync(`${file}-shm`, "r");
const header = Buffer.alloc(N_BACKFILL_AT + 4);
const u32 = (at: number): number =>
  os.endianness() === "LE" ? header.readUInt32LE(at) : header.readUInt32BE(at);

const timer = setInterval(() => {
  if (fs.readSync(index, header, 0, header.length, 0) < header.length) return;
  if (u32(MX_FRAME_AT) - u32(N_BACKFILL_AT) >= pages) db.pragma("wal_checkpoint(PASSIVE)");
}, pollMs);

parentPort?.on("message", (message: unknown) => {
  if (message !== "stop") return;
  clearInterval(timer);
  fs.closeSync(index);
  db.close();
  parentPort?.close();
});
