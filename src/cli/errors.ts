import { ConfigError } from "../config/errors.js";
import { KeyError } from "../keys/identity.js";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
/** Bad input or bad configuration: nothing was started. */
export const EXIT_USAGE = 2;

/** Local failures the CLI explains in one readable message and a non-zero exit; anything else is a bug. */
export function explain(err: unknown): { message: string; exitCode: number } | undefined {
  if (err instanceof ConfigError) return { message: err.message, exitCode: EXIT_USAGE };
  if (err instanceof KeyError) return { message: err.message, exitCode: EXIT_USAGE };
  if (err instanceof UsageError) return { message: err.message, exitCode: EXIT_USAGE };
  return undefined;
}

export class UsageError extends Error {
  readonly code = "ERR_USAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
