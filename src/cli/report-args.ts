/** What the lean `report` path needs; anything it does not recognise goes to the full CLI instead. */
export interface LeanReportArgs {
  readonly config: string | undefined;
  readonly ip: string;
  readonly jail: string | undefined;
}

/**
 * Recognises exactly `report IP` with `-c FILE`/`--config FILE`/`--config=FILE` and
 * `--jail NAME`/`--jail=NAME` anywhere around it. Returns null for anything else (help, typos,
 * extra words) so yargs can explain it properly.
 */
export function leanReportArgs(args: readonly string[]): LeanReportArgs | null {
  let config: string | undefined;
  let jail: string | undefined;
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if ((arg === "-c" || arg === "--config") && i + 1 < args.length) config = args[++i];
    else if (arg.startsWith("--config=")) config = arg.slice("--config=".length);
    else if (arg === "--jail" && i + 1 < args.length) jail = args[++i];
    else if (arg.startsWith("--jail=")) jail = arg.slice("--jail=".length);
    else if (arg.startsWith("-")) return null;
    else words.push(arg);
  }
  if (words.length !== 2 || words[0] !== "report") return null;
  return { config, ip: words[1]!, jail };
}
