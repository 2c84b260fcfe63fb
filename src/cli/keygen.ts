import fs from "node:fs";
import path from "node:path";
import { LIMITS } from "../config/defaults.js";
import { findConfigPath } from "../config/load.js";
import { nameRule, parseEndpoint } from "../config/validate.js";
import { generateIdentity, writeIdentity } from "../keys/identity.js";
import { folderOwner, handToOwner } from "../util/folder-owner.js";
import { UsageError } from "./errors.js";
import { type FriendBlockInfo, friendBlockInfo } from "./friend-block.js";

export interface KeygenArgs {
  readonly name: string;
  readonly endpoint: string;
  readonly trust: number;
  readonly keysDir: string | undefined;
  readonly config: string | undefined;
  readonly force: boolean;
  readonly out: string | undefined;
}

/**
 * Where keys go: --keys-dir, else keys/ beside the config file in use; with no config anywhere
 * (a fresh checkout) that is ./keys.
 */
export function keysDirFor(args: Pick<KeygenArgs, "keysDir" | "config">, env: NodeJS.ProcessEnv): string {
  if (args.keysDir !== undefined) return path.resolve(args.keysDir);
  const configFile = findConfigPath(args.config, env);
  const explicit = args.config !== undefined || env.F2BP2P_CONFIG !== undefined;
  if (explicit || fs.existsSync(path.dirname(configFile))) return path.join(path.dirname(configFile), "keys");
  return path.resolve("keys");
}

/** Creates the node's keys; returns the friend block to hand to friends and the files written. */
export function keygen(
  args: KeygenArgs,
  env: NodeJS.ProcessEnv,
): { block: string; friend: FriendBlockInfo; files: string[]; id: string } {
  // The same rules as the config files the name and endpoint end up in.
  if (!nameRule.check(args.name).ok)
    throw new UsageError(`--name '${args.name}': expected ${nameRule.expected}`);
  const endpoint = parseEndpoint(args.endpoint, false);
  if (!endpoint.ok) throw new UsageError(`--endpoint '${args.endpoint}': expected ${endpoint.expected}`);
  const { min, max } = LIMITS.trust;
  if (!Number.isInteger(args.trust) || args.trust < min || args.trust > max) {
    throw new UsageError(`--trust must be an integer from ${min} to ${max}, got ${args.trust}`);
  }
  const identity = generateIdentity();
  const friend = friendBlockInfo(args.name, args.endpoint, identity, args.trust);
  const block = friend.block;
  const written = writeIdentity(keysDirFor(args, env), identity, block, args.force);
  const files = [written.secretFile, written.publicFile];
  if (args.out !== undefined) {
    fs.writeFileSync(args.out, block, { mode: 0o644 });
    handToOwner(args.out, folderOwner(path.dirname(path.resolve(args.out))));
    files.push(path.resolve(args.out));
  }
  return { block, friend, files, id: friend.id };
}
