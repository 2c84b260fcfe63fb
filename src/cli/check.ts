import { ConfigError } from "../config/errors.js";
import { findConfigPath, loadFriends, loadNodeConfig } from "../config/load.js";
import { loadIdentity, shortId } from "../keys/identity.js";
import { exitCodeFor, formatFinding, type OnlineOptions, onlineFindings } from "./doctor.js";
import { EXIT_OK } from "./exit-codes.js";
import { preflight } from "./preflight.js";

/**
 * `f2bp2p check`: everything `run` validates, without starting a node: the files, then whether this
 * host can use them (the listen address binds, the folders are writable). Throws what `run` would.
 * With `online`, also what only the running system can tell (doctor.ts), and the exit status follows
 * the worst of those findings; without it, the status is 0 (problems throw).
 */
export async function checkConfig(
  configOption: string | undefined,
  env: NodeJS.ProcessEnv,
  online?: OnlineOptions,
): Promise<{ text: string; exitCode: number }> {
  const file = findConfigPath(configOption, env);
  const config = loadNodeConfig(file);
  const identity = loadIdentity(config.keysDir);
  const friends = loadFriends(config.friendsDir, {
    signingKey: identity.signingPublicKey,
    curveKey: identity.curvePublicKey,
  });
  const host = await preflight(config);
  if (host.problems.length > 0) throw new ConfigError(host.problems);
  const offline = [
    `${file}: ok`,
    `node ${config.name} (${shortId(identity.signingPublicKey)}) listens on ${config.listen}, threshold ${config.threshold}`,
    `${friends.length} friend(s): ${friends.map((f) => `${f.name} (trust ${f.trust})`).join(", ") || "none"}`,
    ...host.warnings.map((warning) => `warning: ${warning}`),
    ...host.notes.map((note) => `note: ${note}`),
  ];
  if (online === undefined) return { text: offline.join("\n"), exitCode: EXIT_OK };
  const findings = await onlineFindings(config, identity, friends, online);
  return { text: [...offline, ...findings.map(formatFinding)].join("\n"), exitCode: exitCodeFor(findings) };
}
