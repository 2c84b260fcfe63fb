import fs from "node:fs";
import path from "node:path";
import type { NodeConfig } from "../config/types.js";
import { SECRET_FILE } from "../keys/identity.js";

/**
 * Who may change what the node trusts: its secret key, its config and its friends. A local user who
 * can write the keys folder can swap the node's identity; one who can write friends.d can add a
 * friend with trust 100 and have any address banned. `check` and `run` refuse where the secret key
 * is at stake and warn for the rest.
 */
export interface Finding {
  readonly level: "refuse" | "warn";
  readonly path: string;
  /** What is wrong and how to fix it, one line. */
  readonly message: string;
}

/**
 * `euid` is the user the node runs as; root (0) may own anything. Root checking a service's config
 * (`f2bp2p check` by hand, or the packaged unit's files) also trusts the owner of `state_dir`: that
 * is the node's own user (the package's f2bp2p), whose keys are its own by design.
 */
export function auditPermissions(config: NodeConfig, euid: number): Finding[] {
  const findings: Finding[] = [];
  const nodeUser = euid === 0 ? fs.statSync(config.stateDir, { throwIfNoEntry: false })?.uid : undefined;
  const trusted = (uid: number): boolean => uid === euid || uid === 0 || uid === nodeUser;
  const add = (level: Finding["level"], file: string, message: string): void => {
    findings.push({ level, path: file, message });
  };

  const keysDir = statOrUndefined(config.keysDir);
  if (keysDir !== undefined) {
    if ((keysDir.mode & 0o022) !== 0)
      add("refuse", config.keysDir, `others can write the keys folder: run 'chmod 700 ${config.keysDir}'`);
    if (!trusted(keysDir.uid))
      add("refuse", config.keysDir, `the keys folder belongs to another user (uid ${keysDir.uid})`);
  }
  const secret = path.join(config.keysDir, SECRET_FILE);
  const link = lstatOrUndefined(secret);
  if (link?.isSymbolicLink()) {
    const target = statOrUndefined(secret);
    if (target === undefined || !trusted(target.uid))
      add("refuse", secret, "node.key is a symlink to a file of another user (or to nothing)");
  } else if (link !== undefined && !trusted(link.uid)) {
    add(
      "refuse",
      secret,
      `node.key belongs to another user (uid ${link.uid}): 'chown' it to the node's user`,
    );
  }

  const configFile = statOrUndefined(config.file);
  if (configFile !== undefined) {
    if ((configFile.mode & 0o002) !== 0)
      add("warn", config.file, `anyone can write the config: run 'chmod o-w ${config.file}'`);
    if (!trusted(configFile.uid))
      add("warn", config.file, `the config belongs to another user (uid ${configFile.uid})`);
  }

  const friendsDir = statOrUndefined(config.friendsDir);
  if (friendsDir !== undefined) {
    if ((friendsDir.mode & 0o002) !== 0)
      add(
        "warn",
        config.friendsDir,
        `anyone can write friends.d and so add a friend: run 'chmod o-w ${config.friendsDir}'`,
      );
    if (!trusted(friendsDir.uid))
      add("warn", config.friendsDir, `friends.d belongs to another user (uid ${friendsDir.uid})`);
    for (const name of listOrEmpty(config.friendsDir)) {
      if (name.startsWith(".") || !/\.ya?ml$/.test(name)) continue;
      const file = path.join(config.friendsDir, name);
      const stat = statOrUndefined(file);
      if (stat === undefined) continue;
      const isLink = lstatOrUndefined(file)?.isSymbolicLink() ?? false;
      if (!trusted(stat.uid))
        add(
          "warn",
          file,
          `friend file ${isLink ? "is a symlink to a file that " : ""}belongs to another user (uid ${stat.uid})`,
        );
      else if ((stat.mode & 0o002) !== 0)
        add("warn", file, `anyone can write this friend file: run 'chmod o-w ${file}'`);
    }
  }
  return findings;
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}

function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch {
    return undefined;
  }
}

function listOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
