import assert from "node:assert/strict";
import fs from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";

const SCHEMA_DIR = new URL("../../../docs/schema/", import.meta.url);

/** The shapes documented in docs/json.md, one JSON Schema file each in docs/schema/. */
export const SHAPES = [
  "status",
  "score",
  "bans",
  "check",
  "report",
  "revoke",
  "keygen",
  "friend-block",
] as const;
export type Shape = (typeof SHAPES)[number];

// Strict: a schema with an unknown keyword or a loose construct fails to compile; every error is shown.
const ajv = new Ajv2020({ strict: true, allErrors: true });

export function schemaOf(shape: Shape): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(new URL(`${shape}.json`, SCHEMA_DIR), "utf8"));
}

const validators = new Map(SHAPES.map((shape) => [shape, ajv.compile(schemaOf(shape))]));

/** Parses `stdout` as one JSON document and asserts it matches the documented schema of `shape`. */
export function assertShape(shape: Shape, stdout: string): Record<string, unknown> & { version: number } {
  const value = JSON.parse(stdout);
  const validate = validators.get(shape)!;
  assert.ok(validate(value), `${shape}: ${ajv.errorsText(validate.errors)}\n${stdout}`);
  return value as Record<string, unknown> & { version: number };
}
