import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { UNBAN_APPLY_DEFAULTS } from "../config/defaults.js";
import { findConfigPath, loadNodeConfig } from "../config/load.js";
import { applyUnbans, type UnbanOutcome } from "../fail2ban/unban-apply.js";
import { EXIT_FAILURE, EXIT_OK } from "./exit-codes.js";

const run = promisify(execFile);

/** fail2ban-client gives up on a server that does not answer; this bounds a hung one. */
const CLIENT_TIMEOUT_MS = 30_000;

export interface UnbanApplyArgs {
  readonly config?: string;
  readonly bansLog?: string;
  readonly position?: string;
  readonly jail?: string;
  readonly fail2banClient?: string;
  /** fail2ban's socket (`fail2ban-client -s`); fail2ban's own default when absent. */
  readonly fail2banSocket?: string;
}

/**
 * `f2bp2p unban-apply`: applies the UNBAN lines written to the bans log since the last run
 * (fail2ban/unban-apply.ts). Exit 0 when every one was applied (or there was none), 1 when the bans
 * log or the position file could not be used or fail2ban refused an unban (the next run retries it).
 */
export async function runUnbanApply(args: UnbanApplyArgs, env: NodeJS.ProcessEnv): Promise<number> {
  const bansLog = args.bansLog ?? loadNodeConfig(findConfigPath(args.config, env)).bansLog;
  const jail = args.jail ?? UNBAN_APPLY_DEFAULTS.jail;
  const client = args.fail2banClient ?? UNBAN_APPLY_DEFAULTS.fail2ban_client;
  const socket = args.fail2banSocket === undefined ? [] : ["-s", args.fail2banSocket];
  const unban = async (ip: string): Promise<UnbanOutcome> => {
    try {
      const { stdout } = await run(client, [...socket, "set", jail, "unbanip", ip], {
        timeout: CLIENT_TIMEOUT_MS,
      });
      // fail2ban answers with how many of the given addresses it unbanned.
      return stdout.trim() === "0" ? "not-banned" : "unbanned";
    } catch (err: unknown) {
      const e = err as { stderr?: string; message: string };
      const detail = (e.stderr ?? "").trim().split("\n").pop() || e.message;
      throw new Error(`${client} set ${jail} unbanip ${ip}: ${detail}`);
    }
  };
  let result: Awaited<ReturnType<typeof applyUnbans>>;
  try {
    result = await applyUnbans({
      bansLog,
      positionFile: args.position ?? UNBAN_APPLY_DEFAULTS.position_file,
      unban,
    });
  } catch (err: unknown) {
    process.stderr.write(`f2bp2p unban-apply: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_FAILURE;
  }
  for (const a of result.applied) {
    const what = a.outcome === "unbanned" ? "unbanned" : "was not banned";
    process.stdout.write(`${a.ip}: ${what} in jail ${jail} (reason=${a.reason})\n`);
  }
  if (result.failed !== undefined) {
    process.stderr.write(
      `f2bp2p unban-apply: ${result.failed.ip} not unbanned: ${result.failed.error}; the next run tries again from there\n`,
    );
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}
