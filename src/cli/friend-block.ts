import { findConfigPath, loadNodeConfig } from "../config/load.js";
import { parseEndpoint } from "../config/validate.js";
import { friendBlock, type Identity, loadIdentity, shortId } from "../keys/identity.js";
import { UsageError } from "./errors.js";

/** The friend block and what it says, as `keygen -o json` and `friend-block -o json` print it (docs/json.md). */
export interface FriendBlockInfo {
  /** The node's name: the friend saves the block as friends.d/NAME.yaml. */
  readonly name: string;
  readonly endpoint: string;
  /** Short id of the signing key: its first 12 hex digits. */
  readonly id: string;
  /** Ed25519 signing public key, base64 (as `signing_key` in the block). */
  readonly signingKey: string;
  /** CURVE public key, Z85 (as `curve_key` in the block). */
  readonly curveKey: string;
  readonly trust: number;
  /** The block itself: the YAML file the friend saves. */
  readonly block: string;
}

/** The friend block of `identity` and its fields. */
export function friendBlockInfo(
  name: string,
  endpoint: string,
  identity: Identity,
  trust: number,
): FriendBlockInfo {
  return {
    name,
    endpoint,
    id: shortId(identity.signingPublicKey),
    signingKey: identity.signingPublicKey.toString("base64"),
    curveKey: identity.curvePublicKey,
    trust,
    block: friendBlock(name, endpoint, identity, trust),
  };
}

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
): FriendBlockInfo {
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
  return friendBlockInfo(config.name, endpoint, identity, args.trust);
}
