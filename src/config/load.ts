/**
 * Finding, reading and parsing the configuration files. The checks themselves are in validate.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type Document, parseDocument } from "yaml";
import { DEFAULT_CONFIG_PATH } from "./defaults.js";
import { ConfigError, type ConfigProblem } from "./errors.js";
import type { FriendConfig, NodeConfig } from "./types.js";
import {
  crossCheckFriends,
  type FriendIdentity,
  type SelfKeys,
  validateFriendDocument,
  validateNodeDocument,
} from "./validate.js";

export { parseDuration, parseEndpointHost, type SelfKeys } from "./validate.js";

export { DEFAULT_CONFIG_PATH };

/** The `--config` value, else `F2BP2P_CONFIG`, else the default; empty values count as unset. Absolute. */
export function findConfigPath(cliValue: string | undefined, env: NodeJS.ProcessEnv): string {
  const chosen = [cliValue, env.F2BP2P_CONFIG].find((v) => v !== undefined && v !== "");
  return path.resolve(chosen ?? DEFAULT_CONFIG_PATH);
}

/** Reads and checks f2bp2p.yaml; throws one ConfigError listing every problem. */
export function loadNodeConfig(file: string): NodeConfig {
  const absolute = path.resolve(file);
  const parsed = readYamlFile(absolute);
  if (!parsed.ok) throw new ConfigError(parsed.problems);
  const { config, problems } = validateNodeDocument(parsed.value, absolute);
  if (config === null) throw new ConfigError(problems);
  return config;
}

/**
 * Reads every `*.yaml` and `*.yml` file in `dir` (sorted by name; hidden files and other names are
 * skipped; a missing folder means no friends) and checks them, alone and against each other and
 * our own keys. Throws one ConfigError listing every problem in every file.
 */
export function loadFriends(dir: string, self: SelfKeys): FriendConfig[] {
  const folder = path.resolve(dir);
  const listing = listFriendFiles(folder);
  if (!listing.ok) throw new ConfigError(listing.problems);
  const problems: ConfigProblem[] = [];
  const identities: FriendIdentity[] = [];
  const friends: FriendConfig[] = [];
  for (const file of listing.value) {
    const parsed = readYamlFile(file);
    if (!parsed.ok) {
      problems.push(...parsed.problems);
      continue;
    }
    const checked = validateFriendDocument(parsed.value, file);
    problems.push(...checked.problems);
    identities.push(checked.identity);
    if (checked.friend !== null) friends.push(checked.friend);
  }
  problems.push(...crossCheckFriends(identities, self));
  if (problems.length > 0) throw new ConfigError(problems);
  return friends;
}

// ---------------------------------------------------------------------------

type Read<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problems: ConfigProblem[] };

function errnoCode(err: unknown): string | undefined {
  return err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
}

function describeFsError(err: unknown): string {
  const code = errnoCode(err);
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "a folder";
  if (code === "ENOTDIR") return "a file";
  return err instanceof Error ? err.message : String(err);
}

function fsProblem(file: string, err: unknown, expected: string): ConfigProblem {
  const code = errnoCode(err);
  if (code === "ENOENT") return { file, key: "", code: "not-found", expected, got: "no such file or folder" };
  return { file, key: "", code: "unreadable", expected, got: describeFsError(err) };
}

function listFriendFiles(folder: string): Read<string[]> {
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return { ok: true, value: [] };
    return { ok: false, problems: [fsProblem(folder, err, "a readable folder of friend files")] };
  }
  const files = names
    .filter((name) => !name.startsWith(".") && /\.ya?ml$/.test(name))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((name) => path.join(folder, name));
  return { ok: true, value: files };
}

function readYamlFile(file: string): Read<unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    return { ok: false, problems: [fsProblem(file, err, "a readable YAML file")] };
  }
  return parseYaml(text, file);
}

/** Parses YAML text; every syntax error becomes a `parse-error` problem with its line and column. */
function parseYaml(text: string, file: string): Read<unknown> {
  const doc = parseDocument(text);
  if (doc.errors.length === 0) return toJS(doc, file);
  const problems = doc.errors.map((e): ConfigProblem => {
    const reason = e.message.split(" at line ")[0]!.split("\n")[0]!;
    const at = e.linePos?.[0];
    const got = at === undefined ? reason : `${reason} (line ${at.line}, column ${at.col})`;
    return { file, key: "", code: "parse-error", expected: "valid YAML", got };
  });
  return { ok: false, problems };
}

/** The document as plain values; yaml refuses documents whose aliases expand too far. */
function toJS(doc: Document, file: string): Read<unknown> {
  try {
    return { ok: true, value: doc.toJS() };
  } catch (err) {
    const got = err instanceof Error ? err.message : String(err);
    return { ok: false, problems: [{ file, key: "", code: "parse-error", expected: "valid YAML", got }] };
  }
}
