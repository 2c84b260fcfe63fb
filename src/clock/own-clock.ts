/**
 * Is this host's clock synchronised? Asked where the system can tell: systemd's `timedatectl`
 * (NTPSynchronized), else the kernel's NTP state through adjtimex(2) (TIME_ERROR or STA_UNSYNC mean
 * not synchronised; chrony, ntpd and systemd-timesyncd clear them), read with Debian's python3 since
 * Node has no binding for it. Anything else is "unknown", never a guess.
 */
import { execFile } from "node:child_process";

export interface OwnClock {
  readonly state: "synchronised" | "not-synchronised" | "unknown";
  /** Which probe answered. */
  readonly source?: "timedatectl" | "adjtimex";
}

/** Runs a command, resolving its stdout, rejecting on failure or timeout. */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<string>;

const PROBE_TIMEOUT_MS = 3000;

const runCommand: CommandRunner = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: PROBE_TIMEOUT_MS }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });

/** adjtimex(2) with modes 0 (read only); prints its return value and the status word. */
const ADJTIMEX_PY = [
  "import ctypes, ctypes.util",
  "buf = ctypes.create_string_buffer(512)",
  "r = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True).adjtimex(buf)",
  // struct timex: modes (int), then 4 longs (offset, freq, maxerror, esterror), then int status
  "off = 4 + (ctypes.sizeof(ctypes.c_long) - 4) + 4 * ctypes.sizeof(ctypes.c_long)",
  "print(r, ctypes.c_int.from_buffer(buf, off).value)",
].join("\n");

const TIME_ERROR = 5;
const STA_UNSYNC = 0x40;

/** `timedatectl show -p NTPSynchronized --value` prints `yes` or `no`. */
export function parseTimedatectl(stdout: string): OwnClock["state"] {
  const value = stdout.trim();
  if (value === "yes") return "synchronised";
  if (value === "no") return "not-synchronised";
  return "unknown";
}

/** `RETURN STATUS` from the adjtimex probe. */
export function parseAdjtimex(stdout: string): OwnClock["state"] {
  const m = /^(-?\d+) (-?\d+)\s*$/.exec(stdout);
  if (!m) return "unknown";
  const result = Number(m[1]);
  const status = Number(m[2]);
  if (result < 0) return "unknown";
  return result === TIME_ERROR || (status & STA_UNSYNC) !== 0 ? "not-synchronised" : "synchronised";
}

/** Asks timedatectl, then adjtimex; never rejects. */
export async function probeOwnClock(run: CommandRunner = runCommand): Promise<OwnClock> {
  try {
    const state = parseTimedatectl(await run("timedatectl", ["show", "-p", "NTPSynchronized", "--value"]));
    if (state !== "unknown") return { state, source: "timedatectl" };
  } catch {
    // no systemd (containers, other init systems): try the kernel
  }
  try {
    const state = parseAdjtimex(await run("/usr/bin/python3", ["-c", ADJTIMEX_PY]));
    if (state !== "unknown") return { state, source: "adjtimex" };
  } catch {
    // no python3, or a libc without adjtimex
  }
  return { state: "unknown" };
}
