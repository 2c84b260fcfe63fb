import { sha256 } from "../protocol/signing.js";

/**
 * Reports applied by `f2bp2p import` come through a pseudo-friend: a 32-byte key that is no node's
 * signing key, standing where a friend's key stands (the `via` of their contributions, the last key
 * of their stored path, the quota's `brought_by`). Its first 30 bytes are fixed, then one byte says
 * whether they travel on (`--relay`) and one byte is the trust given at import, so the store alone
 * says how much they count and whether to send them, across restarts, with no table of its own.
 */
const IMPORT_KEY_PREFIX = sha256(Buffer.from("f2bp2p/v1/import-source\0", "latin1")).subarray(0, 30);

export interface ImportSource {
  /** Trust given at import, 0-100: these reports' trust here and the cap of their sum per IP. */
  readonly trust: number;
  /** True when they travel on to friends like any friend's reports. */
  readonly relay: boolean;
}

/** The pseudo-friend key (32 bytes) for reports imported with `trust` (0-100) and `relay`. */
export function importKey(source: ImportSource): Buffer {
  if (!Number.isInteger(source.trust) || source.trust < 0 || source.trust > 100)
    throw new RangeError(`import trust must be an integer 0-100, not ${source.trust}`);
  return Buffer.concat([IMPORT_KEY_PREFIX, Buffer.from([source.relay ? 1 : 0, source.trust])]);
}

/** The import a key (raw or hex) stands for, or undefined when it is not an import pseudo-friend. */
export function importSourceOf(key: Buffer | string): ImportSource | undefined {
  const raw = typeof key === "string" ? (key.length === 64 ? Buffer.from(key, "hex") : undefined) : key;
  if (raw === undefined || raw.length !== 32 || !raw.subarray(0, 30).equals(IMPORT_KEY_PREFIX))
    return undefined;
  const relay = raw[30]!;
  const trust = raw[31]!;
  if (relay > 1 || trust > 100) return undefined;
  return { relay: relay === 1, trust };
}

/**
 * True when a copy that reached us on `path` (origin first, the bringing key last) came from an
 * import without `--relay`: it is never sent to friends, live or in a catch-up sync answer.
 */
export function staysHere(path: readonly Buffer[]): boolean {
  const last = path[path.length - 1];
  return last !== undefined && importSourceOf(last)?.relay === false;
}

/** How an import pseudo-friend is named in `status` and logs, e.g. "import (trust 40)". */
export function importName(source: ImportSource): string {
  return `import (trust ${source.trust}${source.relay ? ", relayed" : ""})`;
}
