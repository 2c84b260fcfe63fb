/**
 * `-o human|json` (and `--json`) of the commands that print state. Every JSON document a command
 * prints is one object whose `version` is JSON_VERSION; its fields are in docs/json.md and its
 * JSON Schema in docs/schema/. No imports: the lean `report` path loads this.
 */

export const OUTPUT_FORMATS = ["human", "json"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * Version of the JSON shapes (docs/json.md). Adding a field keeps it; removing or renaming a field,
 * or changing a field's type or meaning, makes it 2.
 */
export const JSON_VERSION = 1;

/** The yargs options every state-printing command takes; the CLI adds them with `.options(...)`. */
export const OUTPUT_OPTIONS = {
  output: {
    alias: "o",
    choices: OUTPUT_FORMATS,
    default: "human" as OutputFormat,
    description: "Output format: human, or json (versioned shape, docs/json.md)",
  },
  json: { type: "boolean", default: false, description: "Same as -o json" },
} as const;

/** JSON when `--json` or `-o json` was given. */
export function outputFormat(args: { output?: string; json?: boolean }): OutputFormat {
  return args.json === true || args.output === "json" ? "json" : "human";
}

/** One JSON document: `{"version": 1, ...fields}`, indented, with a final newline. */
export function jsonDocument(fields: Readonly<Record<string, unknown>>): string {
  return `${JSON.stringify({ version: JSON_VERSION, ...fields }, null, 2)}\n`;
}
