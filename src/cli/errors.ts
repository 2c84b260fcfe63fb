import { ConfigError } from "../config/errors.js";
import { KeyError } from "../keys/identity.js";
import { StoreDamagedError, StoreLockedError } from "../state/store.js";
import { EXIT_STATE, EXIT_USAGE } from "./exit-codes.js";

export { EXIT_FAILURE, EXIT_OK, EXIT_STATE, EXIT_USAGE } from "./exit-codes.js";

/** Local failures the CLI explains in one readable message and a non-zero exit; anything else is a bug. */
export function explain(err: unknown): { message: string; exitCode: number } | undefined {
  if (err instanceof ConfigError) return { message: err.message, exitCode: EXIT_USAGE };
  if (err instanceof KeyError) return { message: err.message, exitCode: EXIT_USAGE };
  if (err instanceof UsageError) return { message: err.message, exitCode: EXIT_USAGE };
  if (err instanceof StoreDamagedError || err instanceof StoreLockedError)
    return { message: err.message, exitCode: EXIT_STATE };
  return undefined;
}

export class UsageError extends Error {
  readonly code = "ERR_USAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
