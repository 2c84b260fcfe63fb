/**
 * log-watch: follows fail2ban's log (log-follower.ts) and reports its `Ban` lines
 * (fail2ban-log.ts), never `Restore Ban` nor the f2bp2p jail's own bans. It also says when the file
 * does not look like fail2ban's log in a form it reads, at start and while the file grows, so a
 * log-watch that never reports anything is never silent about it.
 */
import { open } from "node:fs/promises";
import { classifyFail2banLine, isReportedJail } from "./fail2ban-log.js";
import { LogFollower, type LogFollowerOptions } from "./log-follower.js";

/** Lines read without any recognisable fail2ban line before a warning. */
export const UNRECOGNISED_LINES_BEFORE_WARNING = 100;
/** Bytes at the end of the file looked at when log-watch starts. */
const START_SAMPLE_BYTES = 64 * 1024;

export interface Fail2banLogWatcherOptions {
  /** fail2ban's log, usually /var/log/fail2ban.log. */
  readonly path: string;
  /** Where the read position is kept (in the node's state folder). */
  readonly positionFile: string;
  /** Jails whose bans are reported; empty = every jail. */
  readonly jails: readonly string[];
  /** The jail fed by the f2bp2p bans log, never reported (default "f2bp2p"). */
  readonly ownJail?: string;
  /** Called for each new ban, in log order. A rejection makes the batch come again later. */
  readonly onBan: (ip: string, jail: string) => Promise<void>;
  /** I/O problems and the follower's warnings (rotation, long lines). */
  readonly onError?: (err: unknown) => void;
  /** The file does not look like fail2ban's log in a form log-watch reads (once until it does). */
  readonly onUnrecognised?: (message: string) => void;
  readonly pollIntervalMs?: number;
  readonly watch?: boolean;
  readonly rotateGraceMs?: number;
  readonly now?: () => number;
}

/** What `f2bp2p status` shows of log-watch. */
export interface WatchStatus {
  readonly file: string;
  /** "fail2ban": lines in a form log-watch reads were seen; "unrecognised": lines, none of them; "unknown": no line yet. */
  readonly format: "fail2ban" | "unrecognised" | "unknown";
  readonly linesRead: number;
  /** Lines read since the last recognisable one. */
  readonly unrecognisedInARow: number;
  readonly bansReported: number;
  /** Set while the format is "unrecognised". */
  readonly warning?: string;
}

export class Fail2banLogWatcher {
  private readonly follower: LogFollower;
  private readonly options: Fail2banLogWatcherOptions;
  private linesRead = 0;
  private unrecognisedInARow = 0;
  private recognisedEver = false;
  private bansReported = 0;
  private warning: string | undefined;
  /** Index of the line whose ban failed in the last batch (-1: it went through): counted up to there. */
  private failedAt = -1;

  constructor(options: Fail2banLogWatcherOptions) {
    this.options = options;
    const ownJail = options.ownJail ?? "f2bp2p";
    const jails = [...options.jails];
    const follower: LogFollowerOptions = {
      path: options.path,
      positionFile: options.positionFile,
      onLines: async (lines) => {
        // A batch that failed comes again from its first line: its lines already counted are not
        // counted (nor said) twice, though their bans are reported again (at least once).
        const failedAt = this.failedAt;
        for (const [i, line] of lines.entries()) {
          const kind = classifyFail2banLine(line);
          if (i > failedAt) {
            this.count(kind.kind !== "other");
            if (kind.kind === "unreadable-ban") {
              options.onError?.(new Error(`${options.path}: ban line not reported, ${kind.reason}: ${line}`));
            }
          }
          if (kind.kind === "ban" && isReportedJail(kind.ban.jail, jails, ownJail)) {
            try {
              await options.onBan(kind.ban.ip, kind.ban.jail);
            } catch (err) {
              this.failedAt = Math.max(failedAt, i);
              throw err;
            }
            if (i >= failedAt) this.bansReported++;
          }
        }
        this.failedAt = -1;
      },
      ...(options.onError ? { onError: options.onError } : {}),
      ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
      ...(options.watch !== undefined ? { watch: options.watch } : {}),
      ...(options.rotateGraceMs !== undefined ? { rotateGraceMs: options.rotateGraceMs } : {}),
      ...(options.now !== undefined ? { now: options.now } : {}),
    };
    this.follower = new LogFollower(follower);
  }

  /** Looks at the end of the file as it is now (says so when it is in a form not read), then follows. */
  async start(): Promise<void> {
    const sample = await tailLines(this.options.path);
    if (sample.length > 0 && !sample.some((line) => classifyFail2banLine(line).kind !== "other")) {
      this.warn(
        `${this.options.path}: none of its last ${sample.length} lines is a fail2ban log line in a form ` +
          "log-watch reads (fail2ban's log file, syslog or journal form); bans in it will not be reported",
      );
    }
    await this.follower.start();
  }

  stop(): Promise<void> {
    return this.follower.stop();
  }

  status(): WatchStatus {
    const format = this.warning !== undefined ? "unrecognised" : this.recognisedEver ? "fail2ban" : "unknown";
    return {
      file: this.options.path,
      format,
      linesRead: this.linesRead,
      unrecognisedInARow: this.unrecognisedInARow,
      bansReported: this.bansReported,
      ...(this.warning !== undefined ? { warning: this.warning } : {}),
    };
  }

  private count(recognised: boolean): void {
    this.linesRead++;
    if (recognised) {
      this.recognisedEver = true;
      this.unrecognisedInARow = 0;
      this.warning = undefined;
      return;
    }
    this.unrecognisedInARow++;
    if (this.unrecognisedInARow === UNRECOGNISED_LINES_BEFORE_WARNING && this.warning === undefined) {
      this.warn(
        `${this.options.path}: ${UNRECOGNISED_LINES_BEFORE_WARNING} new lines and none is a fail2ban log line ` +
          "in a form log-watch reads (fail2ban's log file, syslog or journal form); bans in it are not reported",
      );
    }
  }

  private warn(message: string): void {
    this.warning = message;
    try {
      this.options.onUnrecognised?.(message);
    } catch {
      // a handler that throws must not stop following
    }
  }
}

/** The complete lines in the last START_SAMPLE_BYTES of the file; none when it is missing or unreadable. */
async function tailLines(path: string): Promise<string[]> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "r");
  } catch {
    return []; // the follower reports what matters (missing file, permissions)
  }
  try {
    const { size } = await fh.stat();
    const from = Math.max(0, size - START_SAMPLE_BYTES);
    const buf = Buffer.alloc(size - from);
    const { bytesRead } = await fh.read(buf, 0, buf.length, from);
    const lines = buf.subarray(0, bytesRead).toString("utf8").split("\n");
    lines.pop(); // an unterminated last line (or the empty piece after the final \n)
    if (from > 0) lines.shift(); // the first piece may be the end of a longer line
    return lines.filter((line) => line.trim() !== "");
  } catch {
    return [];
  } finally {
    await fh.close().catch(() => undefined);
  }
}
