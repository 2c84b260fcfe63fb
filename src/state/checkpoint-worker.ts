/**
 * The body of the background checkpointer (checkpointer.ts), run on a worker thread: its own
 * connection to the node's state.db copies committed pages from the write-ahead log back into the
 * database (a PASSIVE checkpoint: it never blocks the node's writes, and skips what a reader holds)
 * every `everyMs`, until told to stop. Any error ends the thread; the node's connection then
 * checkpoints by itself again.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

const { file, everyMs } = workerData as { file: string; everyMs: number };
const db = new Database(file, { fileMustExist: true });
const timer = setInterval(() => db.pragma("wal_checkpoint(PASSIVE)"), everyMs);

parentPort?.on("message", (message: unknown) => {
  if (message !== "stop") return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
