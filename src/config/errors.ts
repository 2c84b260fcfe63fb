/** What kind of mistake a configuration problem is. */
export type ConfigProblemCode =
  | "not-found"
  | "unreadable"
  | "parse-error"
  | "not-a-mapping"
  | "missing-key"
  | "unknown-key"
  | "wrong-type"
  | "out-of-range"
  | "invalid-value"
  | "duplicate-friend-name"
  | "duplicate-friend-key"
  | "friend-is-self"
  // The value is well formed but this host cannot use it (address not local, folder not writable).
  | "unusable"
  // Others could change it: the keys folder, node.key (docs/security.md).
  | "unsafe";

/** One mistake in one configuration file. */
export interface ConfigProblem {
  /** Absolute path of the file (or folder) the problem is in. */
  readonly file: string;
  /**
   * The key as written in the file, nested keys dotted and list items indexed
   * (`watch.fail2ban_log`, `ignore[2]`). Empty for problems with the whole file
   * (`not-found`, `unreadable`, `parse-error`, `not-a-mapping`).
   */
  readonly key: string;
  readonly code: ConfigProblemCode;
  /** What a valid value looks like, in words. */
  readonly expected: string;
  /** What was found instead, when there is something useful to show. */
  readonly got?: string;
}

/** `FILE: KEY: expected EXPECTED, got GOT`; the key and the `got` part are left out when empty. */
export function formatProblem(p: ConfigProblem): string {
  const where = p.key === "" ? p.file : `${p.file}: ${p.key}`;
  const got = p.got === undefined ? "" : `, got ${p.got}`;
  return `${where}: expected ${p.expected}${got}`;
}

/** Thrown by the config loaders with every problem found, so one run shows them all. */
export class ConfigError extends Error {
  readonly code = "ERR_CONFIG";
  readonly problems: ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join("\n"));
    this.name = "ConfigError";
    this.problems = [...problems];
  }
}
