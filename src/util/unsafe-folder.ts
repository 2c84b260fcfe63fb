import fs from "node:fs";

/**
 * Why a local user other than `euid` (or root) could replace what is in `folder`, or undefined when
 * none can: it is writable by everyone without the sticky bit, or it belongs to another user.
 * Throws the fs error when the folder cannot be read.
 */
export function unsafeFolder(folder: string, euid = process.geteuid?.() ?? 0): string | undefined {
  const stat = fs.statSync(folder);
  const sticky = (stat.mode & 0o1000) !== 0;
  if ((stat.mode & 0o002) !== 0 && !sticky) return "anyone can write it (chmod o-w)";
  if (stat.uid !== euid && stat.uid !== 0) return `it belongs to another user (uid ${stat.uid})`;
  return undefined;
}
