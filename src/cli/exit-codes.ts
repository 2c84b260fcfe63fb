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
