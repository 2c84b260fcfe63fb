import { findConfigPath, loadFriends, loadNodeConfig } from "../config/load.js";
import { loadIdentity, shortId } from "../keys/identity.js";

/** `f2bp2p check`: everything `run` validates, without binding anything. Throws what `run` would. */
export function checkConfig(configOption: string | undefined, env: NodeJS.ProcessEnv): string {
  const file = findConfigPath(configOption, env);
  const config = loadNodeConfig(file);
  const identity = loadIdentity(config.keysDir);
  const friends = loadFriends(config.friendsDir, {
    signingKey: identity.signingPublicKey,
    curveKey: identity.curvePublicKey,
  });
  return [
    `${file}: ok`,
    `node ${config.name} (${shortId(identity.signingPublicKey)}) listens on ${config.listen}, threshold ${config.threshold}`,
    `${friends.length} friend(s): ${friends.map((f) => `${f.name} (trust ${f.trust})`).join(", ") || "none"}`,
  ].join("\n");
}
