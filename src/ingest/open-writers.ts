/**
 * Does any process hold a file open for writing? Read from Linux's /proc: each process's open file
 * descriptors (/proc/PID/fd/N, stat follows the link to the file: device and inode) and their open
 * flags (/proc/PID/fdinfo/N, `flags:` in octal; O_WRONLY or O_RDWR mean writing). Another user's
 * processes can only be read by root: when one of them cannot be read and no writer was found, the
 * answer is "unknown", never a guess.
 */
import { readdir, readFile, stat } from "node:fs/promises";

export type OpenForWriting = "yes" | "no" | "unknown";

const O_ACCMODE = 0o3;

/** Looks through every process's descriptors for one open for writing on (dev, ino). Never throws. */
export async function openForWriting(dev: bigint, ino: bigint, proc = "/proc"): Promise<OpenForWriting> {
  let pids: string[];
  try {
    pids = (await readdir(proc)).filter((name) => /^\d+$/.test(name));
  } catch {
    return "unknown"; // no /proc (not Linux, or hidden)
  }
  let unreadable = false;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await readdir(`${proc}/${pid}/fd`);
    } catch (err) {
      // Gone meanwhile (ENOENT) is fine; not allowed (EACCES) means we cannot tell for this one.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") unreadable = true;
      continue;
    }
    for (const fd of fds) {
      try {
        const st = await stat(`${proc}/${pid}/fd/${fd}`, { bigint: true });
        if (st.dev !== dev || st.ino !== ino) continue;
        const info = await readFile(`${proc}/${pid}/fdinfo/${fd}`, "utf8");
        const flags = /^flags:\s*([0-7]+)$/m.exec(info);
        if (flags && (Number.parseInt(flags[1]!, 8) & O_ACCMODE) !== 0) return "yes";
      } catch {
        // closed meanwhile, or a descriptor that is not a file (socket of another namespace, ...)
      }
    }
  }
  return unreadable ? "unknown" : "no";
}
