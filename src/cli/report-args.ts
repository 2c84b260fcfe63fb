/** What the lean `report` path needs; anything it does not recognise goes to the full CLI instead. */
export interface LeanReportArgs {
  readonly config: string | undefined;
  readonly ip: string;
  readonly jail: string | undefined;
}

/**
 * Recognises exactly `[-c FILE|--config FILE|--config=FILE] report IP [--jail NAME|--jail=NAME]`.
 * Returns null for anything else (help, typos, extra words) so yargs can explain it properly.
 */
export function leanReportArgs(args: readonly string[]): LeanReportArgs | null {
  let config: string | undefined;
  let i = 0;
  for (; i < args.length && args[i] !== "report"; i++) {
    const arg = args[i]!;
    if ((arg === "-c" || arg === "--config") && i + 1 < args.length) config = args[++i];
    else if (arg.startsWith("--config=")) config = arg.slice("--config=".length);
    else return null;
  }
  const ip = args[i + 1];
  if (args[i] !== "report" || ip === undefined || ip.startsWith("-")) return null;
  let jail: string | undefined;
  for (let j = i + 2; j < args.length; j++) {
    const arg = args[j]!;
    if (arg === "--jail" && j + 1 < args.length) jail = args[++j];
    else if (arg.startsWith("--jail=")) jail = arg.slice("--jail=".length);
    else return null;
  }
  return { config, ip, jail };
}
