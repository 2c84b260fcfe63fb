import fs from "node:fs";

/**
 * Why a local user other than `euid` (or root) could replace what is in `folder`, or undefined when
 * none can: it is writable by everyone without the sticky bit, or (with `owner: true`) it belongs to
 * another user. Clients of the node's control socket pass `owner: false`: there the folder belongs
 * to the service's own user by design (/run/f2bp2p, owned by f2bp2p), which root and the f2bp2p
 * group must be able to reach; only a folder anyone can write is a place for a planted socket.
 * Throws the fs error when the folder cannot be read.
 */
export function unsafeFolder(
  folder: string,
  euid = process.geteuid?.() ?? 0,
  options: { readonly owner?: boolean } = {},
): string | undefined {
  const stat = fs.statSync(folder);
  const sticky = (stat.mode & 0o1000) !== 0;
  if ((stat.mode & 0o002) !== 0 && !sticky) return "anyone can write it (chmod o-w)";
  if ((options.owner ?? true) && stat.uid !== euid && stat.uid !== 0)
    return `it belongs to another user (uid ${stat.uid})`;
  return undefined;
}
