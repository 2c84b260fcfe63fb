import fs from "node:fs";
import type { StateStore } from "../state/store.js";
import type { Logger } from "../util/logger.js";

/** How much of the bans log's end is read to find lines written just before a crash. */
const TAIL_BYTES = 4 * 1024 * 1024;

/**
 * At start, bans the store still has as pending were either never written (the disk was full, the
 * node died first) or written just before the process died, before the store learned it. The second
 * kind is found in the end of the bans log and marked written, so no line is ever written twice.
 */
export function reconcilePendingBans(store: StateStore, bansLog: string, log: Logger): void {
  const pending = store.pendingBans(100_000);
  if (pending.length === 0) return;
  const tail = readTail(bansLog);
  let found = 0;
  store.transaction(() => {
    for (const ban of pending) {
      const at = lastLineTime(tail, ban.ip);
      if (at !== undefined && at >= ban.decidedAt) {
        store.markBanWritten(ban.ip, at);
        found++;
      }
    }
  });
  log.info("pending bans from the last run", { pending: pending.length, alreadyWritten: found });
}

/**
 * The same for lifts (F2bNode.liftBan): a lift whose UNBAN line is found in the end of the bans log,
 * written after its BAN line, is marked done; the others are written by the node after this.
 */
export function reconcilePendingLifts(store: StateStore, bansLog: string, log: Logger): void {
  const pending = store.pendingLifts(100_000);
  if (pending.length === 0) return;
  const tail = readTail(bansLog);
  let found = 0;
  store.transaction(() => {
    for (const ban of pending) {
      const at = lastLineTime(tail, ban.ip, "UNBAN");
      if (at !== undefined && ban.writtenAt !== null && at >= ban.writtenAt) {
        store.decideBan({ ...ban, writtenAt: null });
        found++;
      }
    }
  });
  log.info("pending unbans from the last run", { pending: pending.length, alreadyWritten: found });
}

function readTail(file: string): string {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return "";
  }
  try {
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, size - length);
    return buffer.toString("latin1");
  } finally {
    fs.closeSync(fd);
  }
}

/** Time (ms) of the last `BAN <ip> ` (or `UNBAN <ip> `) line in `text`, if any. */
function lastLineTime(text: string, ip: string, word: "BAN" | "UNBAN" = "BAN"): number | undefined {
  const needle = ` ${word} ${ip} `;
  const at = text.lastIndexOf(needle);
  if (at < 0) return undefined;
  const lineStart = text.lastIndexOf("\n", at) + 1;
  const time = Date.parse(text.slice(lineStart, at));
  return Number.isNaN(time) ? undefined : time;
}
