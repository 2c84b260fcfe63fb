import { ConfigError, type ConfigProblem, formatProblem } from "../config/errors.js";
import { findConfigPath, loadFriends, loadNodeConfig } from "../config/load.js";
import { KeyError, loadIdentity, shortId } from "../keys/identity.js";
import { exitCodeFor, type Finding, formatFinding, type OnlineOptions, onlineFindings } from "./doctor.js";
import { EXIT_OK } from "./exit-codes.js";
import { preflight } from "./preflight.js";

/** What `check` found when all is well (docs/json.md, check). */
export interface CheckPassed {
  readonly ok: true;
  /** The config file checked, absolute. */
  readonly config: string;
  readonly node: {
    readonly name: string;
    readonly id: string;
    readonly listen: string;
    readonly threshold: number;
  };
  readonly friends: readonly { readonly name: string; readonly endpoint: string; readonly trust: number }[];
  /** The never-ban list `run` sends friends: share_never_ban, then this host's public addresses. */
  readonly neverBanShared: readonly string[];
  /** Things that work but may not be what was meant. */
  readonly warnings: readonly string[];
  readonly notes: readonly string[];
  /** With --online: what only the running system can tell, one finding per line (doctor.ts). */
  readonly findings?: readonly Finding[];
}

/** What `check -o json` prints when the config, keys or friends cannot be used (exit status 2). */
export interface CheckFailed {
  readonly ok: false;
  readonly config: string;
  /** Every problem found: config problems have the file and key; key problems the key error's code. */
  readonly problems: readonly {
    readonly file: string | null;
    readonly key: string | null;
    readonly code: string;
    readonly message: string;
  }[];
}

/**
 * `f2bp2p check`: everything `run` validates, without starting a node: the files, then whether this
 * host can use them (the listen address binds, the folders are writable). Throws what `run` would.
 * With `online`, also what only the running system can tell (doctor.ts); checkExitCode gives the
 * status that follows from the worst of those findings.
 */
export async function checkConfig(
  configOption: string | undefined,
  env: NodeJS.ProcessEnv,
  online?: OnlineOptions,
): Promise<CheckPassed> {
  const file = findConfigPath(configOption, env);
  const config = loadNodeConfig(file);
  const identity = loadIdentity(config.keysDir);
  const friends = loadFriends(config.friendsDir, {
    signingKey: identity.signingPublicKey,
    curveKey: identity.curvePublicKey,
  });
  const host = await preflight(config);
  if (host.problems.length > 0) throw new ConfigError(host.problems);
  return {
    ok: true,
    config: file,
    node: {
      name: config.name,
      id: shortId(identity.signingPublicKey),
      listen: config.listen,
      threshold: config.threshold,
    },
    friends: friends.map((f) => ({ name: f.name, endpoint: f.endpoint, trust: f.trust })),
    neverBanShared: host.neverBanShared,
    warnings: host.warnings,
    notes: host.notes,
    ...(online === undefined ? {} : { findings: await onlineFindings(config, identity, friends, online) }),
  };
}

/** 0 without --online; with it, by the worst finding (exit-codes.ts: 5 a warning, 6 a problem). */
export function checkExitCode(c: CheckPassed): number {
  return c.findings === undefined ? EXIT_OK : exitCodeFor(c.findings);
}

/** `check`'s findings for a person, one per line. */
export function formatCheck(c: CheckPassed): string {
  return `${[
    `${c.config}: ok`,
    `node ${c.node.name} (${c.node.id}) listens on ${c.node.listen}, threshold ${c.node.threshold}`,
    `${c.friends.length} friend(s): ${c.friends.map((f) => `${f.name} (trust ${f.trust})`).join(", ") || "none"}`,
    `never-ban list for friends: ${c.neverBanShared.join(", ") || "empty"}`,
    ...c.warnings.map((warning) => `warning: ${warning}`),
    ...c.notes.map((note) => `note: ${note}`),
    ...(c.findings ?? []).map(formatFinding),
  ].join("\n")}\n`;
}

/** The failed check `err` stands for, or undefined when it is not a config or key problem. */
export function checkFailure(
  configOption: string | undefined,
  env: NodeJS.ProcessEnv,
  err: unknown,
): CheckFailed | undefined {
  const config = findConfigPath(configOption, env);
  if (err instanceof ConfigError)
    return {
      ok: false,
      config,
      problems: err.problems.map((p: ConfigProblem) => ({
        file: p.file,
        key: p.key === "" ? null : p.key,
        code: p.code,
        message: formatProblem(p),
      })),
    };
  if (err instanceof KeyError)
    return { ok: false, config, problems: [{ file: null, key: null, code: err.code, message: err.message }] };
  return undefined;
}
