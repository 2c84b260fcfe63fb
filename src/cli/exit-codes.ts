/**
 * Exit codes of every f2bp2p command, in one place with no imports (the lean `report` path loads it).
 * The man page and README list them; tests check commands against these values.
 */
export const EXIT_OK = 0;
/** The node is not running (report, status) or another failure with its own message. */
export const EXIT_FAILURE = 1;
/** Bad input or bad configuration: nothing was started or changed. */
export const EXIT_USAGE = 2;
/** The state store is damaged or unreadable, or the state dir is in use by another node (run). */
export const EXIT_STATE = 3;
/**
 * The node could not write what it should have (report): the store refused the report (disk full,
 * I/O error), or the report was accepted and shared but its ban line could not be written yet.
 */
export const EXIT_NOT_WRITTEN = 4;
/** check --online: everything works, but a finding deserves a look (a warning line). */
export const EXIT_CHECK_WARNINGS = 5;
/** check --online: something does not work (a problem line: a friend unreachable, no jail watching). */
export const EXIT_CHECK_PROBLEMS = 6;

/** Every exit status with what it means, for the man page and README (in this order). */
export const EXIT_STATUS: readonly { readonly code: number; readonly meaning: string }[] = [
  { code: EXIT_OK, meaning: "Success." },
  {
    code: EXIT_FAILURE,
    meaning:
      "Failure at run time with its own message: the node is not running or may not be reached (status), a report could be neither handed to the node nor queued (report), the node could not start (run).",
  },
  {
    code: EXIT_USAGE,
    meaning:
      "Bad input, or a bad configuration, keys or friend file: nothing was started or changed (check -o json prints the problems). The systemd unit does not restart the service after this status.",
  },
  {
    code: EXIT_STATE,
    meaning: "The state store is damaged or unreadable, or the state dir is in use by another node.",
  },
  {
    code: EXIT_NOT_WRITTEN,
    meaning:
      "report: the node stored the report and shared it, but could not write the ban line here yet; it writes it when it can.",
  },
  {
    code: EXIT_CHECK_WARNINGS,
    meaning: "check --online: everything works, but a finding deserves a look (a warning line).",
  },
  {
    code: EXIT_CHECK_PROBLEMS,
    meaning:
      "check --online: something does not work (a problem line: a friend unreachable, no jail watching the bans log).",
  },
];
