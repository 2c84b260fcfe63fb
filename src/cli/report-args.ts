/** What the lean `report` path needs; anything it does not recognise goes to the full CLI instead. */
export interface LeanReportArgs {
  readonly config: string | undefined;
  readonly ip: string;
  readonly jail: string | undefined;
  /** `--json` or `-o json`: print the versioned JSON shape (docs/json.md) instead of a line. */
  readonly json: boolean;
}

/**
 * Recognises exactly `report IP` with `-c FILE`/`--config FILE`/`--config=FILE`,
 * `--jail NAME`/`--jail=NAME`, `--json` and `-o`/`--output human|json` anywhere around it. Returns null for anything else (help, typos,
 * extra words) so yargs can explain it properly.
 */
export function leanReportArgs(args: readonly string[]): LeanReportArgs | null {
  let config: string | undefined;
  let jail: string | undefined;
  let json = false;
  let output: string | undefined;
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if ((arg === "-c" || arg === "--config") && i + 1 < args.length) config = args[++i];
    else if (arg.startsWith("--config=")) config = arg.slice("--config=".length);
    else if (arg === "--jail" && i + 1 < args.length) jail = args[++i];
    else if (arg.startsWith("--jail=")) jail = arg.slice("--jail=".length);
    else if (arg === "--json") json = true;
    else if ((arg === "-o" || arg === "--output") && i + 1 < args.length) output = args[++i];
    else if (arg.startsWith("--output=")) output = arg.slice("--output=".length);
    else if (arg.startsWith("-")) return null;
    else words.push(arg);
  }
  if (words.length !== 2 || words[0] !== "report") return null;
  if (output !== undefined && output !== "human" && output !== "json") return null;
  return { config, ip: words[1]!, jail, json: json || output === "json" };
}
