import { ConfigError } from "../config/errors.js";
import { findConfigPath, loadFriends, loadNodeConfig } from "../config/load.js";
import { loadIdentity, shortId } from "../keys/identity.js";
import { preflight } from "./preflight.js";

/**
 * `f2bp2p check`: everything `run` validates, without starting a node: the files, then whether this
 * host can use them (the listen address binds, the folders are writable). Throws what `run` would.
 */
export async function checkConfig(configOption: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const file = findConfigPath(configOption, env);
  const config = loadNodeConfig(file);
  const identity = loadIdentity(config.keysDir);
  const friends = loadFriends(config.friendsDir, {
    signingKey: identity.signingPublicKey,
    curveKey: identity.curvePublicKey,
  });
  const host = await preflight(config);
  if (host.problems.length > 0) throw new ConfigError(host.problems);
  return [
    `${file}: ok`,
    `node ${config.name} (${shortId(identity.signingPublicKey)}) listens on ${config.listen}, threshold ${config.threshold}`,
    `${friends.length} friend(s): ${friends.map((f) => `${f.name} (trust ${f.trust})`).join(", ") || "none"}`,
    ...host.warnings.map((warning) => `warning: ${warning}`),
    ...host.notes.map((note) => `note: ${note}`),
  ].join("\n");
}
