import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestContext } from "node:test";
import { curveKeyPair } from "zeromq";
import { ConfigError, type ConfigProblem, type ConfigProblemCode } from "../../src/config/errors.js";

/** A fresh temp folder, removed when the test ends. */
export function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-config-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `text` to `dir/name` (creating folders) and returns the absolute path. */
export function writeFile(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

/** Runs `fn`, asserts it throws a ConfigError, and returns it. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.name, "ConfigError");
    assert.equal(err.code, "ERR_CONFIG");
    assert.ok(err.problems.length > 0);
    return err;
  }
  assert.fail("expected a ConfigError, but nothing was thrown");
}

/**
 * Asserts that `err` has exactly one problem at `file`/`key` with `code`, that the message names the
 * file and key, and returns the problem.
 */
export function problemAt(
  err: ConfigError,
  file: string,
  key: string,
  code: ConfigProblemCode,
): ConfigProblem {
  const matching = err.problems.filter((p) => p.file === file && p.key === key);
  assert.equal(matching.length, 1, `one problem at ${file} ${key}; got ${JSON.stringify(err.problems)}`);
  const problem = matching[0]!;
  assert.equal(problem.code, code, JSON.stringify(problem));
  assert.ok(err.message.includes(file), "the message names the file");
  assert.ok(err.message.includes(key), "the message names the key");
  return problem;
}

/** The only problem of `err`, checked like problemAt. */
export function onlyProblem(
  err: ConfigError,
  file: string,
  key: string,
  code: ConfigProblemCode,
): ConfigProblem {
  assert.equal(err.problems.length, 1, JSON.stringify(err.problems));
  return problemAt(err, file, key, code);
}

export interface TestKeys {
  readonly signingKey: Uint8Array;
  readonly signingText: string;
  readonly curveKey: string;
}

export function newKeys(): TestKeys {
  const signingText = crypto.randomBytes(32).toString("base64");
  return {
    signingKey: new Uint8Array(Buffer.from(signingText, "base64")),
    signingText,
    curveKey: curveKeyPair().publicKey,
  };
}

/** The YAML of a friend file; `extra` lines are appended, `omit` keys left out. */
export function friendYaml(
  name: string,
  keys: TestKeys,
  options: { endpoint?: string; extra?: string[]; omit?: string[] } = {},
): string {
  const lines: Record<string, string> = {
    name: `name: ${name}`,
    endpoint: `endpoint: ${options.endpoint ?? "tcp://192.0.2.10:7711"}`,
    signing_key: `signing_key: ${keys.signingText}`,
    curve_key: `curve_key: ${JSON.stringify(keys.curveKey)}`,
  };
  const kept = Object.entries(lines)
    .filter(([key]) => !options.omit?.includes(key))
    .map(([, line]) => line);
  return [...kept, ...(options.extra ?? []), ""].join("\n");
}
