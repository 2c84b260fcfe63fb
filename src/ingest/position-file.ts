/**
 * The read position of a followed log, kept in a small JSON file and replaced atomically (write a
 * temporary file, fsync, rename), so a crash leaves either the old or the new position.
 */
import { open, readFile, rename, rm } from "node:fs/promises";

/** The fingerprint covers up to this many bytes at the start of the file. */
export const FINGERPRINT_BYTES = 256;

/** What the position file holds. dev and ino are decimal strings: inode numbers can exceed 2^53. */
export interface SavedPosition {
  readonly version: 1;
  readonly dev: string;
  readonly ino: string;
  readonly offset: number;
  /** Inside a dropped over-long line: discard up to the next \n. */
  readonly skipping: boolean;
  /** sha256 (hex) of the file's first fpLen bytes. */
  readonly fp: string;
  readonly fpLen: number;
}

/** Result of reading the file: a position, none yet, or a file that could not be used (with why). */
export type LoadedPosition =
  | { readonly kind: "position"; readonly position: SavedPosition }
  | { readonly kind: "none" }
  | { readonly kind: "unusable"; readonly error: unknown };

/** Reads the position; never throws. */
export async function loadPosition(file: string): Promise<LoadedPosition> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT"
      ? { kind: "none" }
      : { kind: "unusable", error: err };
  }
  try {
    const v = JSON.parse(text) as Partial<SavedPosition>;
    if (
      v.version === 1 &&
      typeof v.dev === "string" &&
      /^\d+$/.test(v.dev) &&
      typeof v.ino === "string" &&
      /^\d+$/.test(v.ino) &&
      Number.isSafeInteger(v.offset) &&
      (v.offset as number) >= 0 &&
      typeof v.skipping === "boolean" &&
      typeof v.fp === "string" &&
      Number.isSafeInteger(v.fpLen) &&
      (v.fpLen as number) >= 0 &&
      (v.fpLen as number) <= FINGERPRINT_BYTES
    ) {
      return { kind: "position", position: v as SavedPosition };
    }
  } catch {
    // not JSON: unusable below
  }
  return { kind: "unusable", error: new Error(`${file}: unreadable position`) };
}

/** Replaces the position file atomically (mode 0600); rejects on I/O errors, leaving no temporary file. */
export async function savePosition(file: string, position: SavedPosition): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, "w", 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(position)}\n`);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
