import { findConfigPath, loadNodeConfig } from "../config/load.js";
import { parseEndpoint } from "../config/validate.js";
import { friendBlock, loadIdentity } from "../keys/identity.js";
import { UsageError } from "./errors.js";

/** Hosts in `listen` that bind every interface: no friend can connect to them as written. */
const WILDCARD_HOSTS = new Set(["*", "0.0.0.0", "::"]);

/**
 * `f2bp2p friend-block`: the block to give a friend, from this node's config (name, listen) and
 * keys. The endpoint is `endpoint` when given, else `listen` when it names a real host.
 * Throws ConfigError / KeyError as `check` would, UsageError when no endpoint can be told.
 */
export function friendBlockFor(
  args: { config: string | undefined; endpoint: string | undefined; trust: number },
  env: NodeJS.ProcessEnv,
): string {
  const config = loadNodeConfig(findConfigPath(args.config, env));
  const identity = loadIdentity(config.keysDir);
  if (!Number.isInteger(args.trust) || args.trust < 0 || args.trust > 100) {
    throw new UsageError(`--trust must be an integer from 0 to 100, got ${args.trust}`);
  }
  let endpoint = args.endpoint;
  if (endpoint === undefined) {
    const listen = parseEndpoint(config.listen, true);
    if (listen.ok && WILDCARD_HOSTS.has(listen.value.host)) {
      throw new UsageError(
        `listen is ${config.listen}, which is no address a friend can connect to: ` +
          `say where friends reach this node, e.g. --endpoint tcp://${config.name}.example.net:${listen.value.port}`,
      );
    }
    endpoint = config.listen;
  }
  const parsed = parseEndpoint(endpoint, false);
  if (!parsed.ok) throw new UsageError(`--endpoint '${endpoint}': expected ${parsed.expected}`);
  return friendBlock(config.name, endpoint, identity, args.trust);
}
