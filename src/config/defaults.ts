/**
 * Default paths of f2bp2p.yaml that both the node and the lean `f2bp2p report` path need. Kept free
 * of imports so `report` (run by fail2ban on every ban) can load it without the config validator.
 */

/** Unix socket of the running node (`control_socket`). */
export const DEFAULT_CONTROL_SOCKET = "/run/f2bp2p/control.sock";

/** Folder of the node's persistent state (`state_dir`). */
export const DEFAULT_STATE_DIR = "/var/lib/f2bp2p";

/** Name of the spool folder inside the state dir, the default of `spool_dir`. */
export const DEFAULT_SPOOL_SUBDIR = "spool";

/** `spool_dir` when the config does not set it: `spool/` inside `state_dir` (both absolute). */
export function defaultSpoolDir(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, "")}/${DEFAULT_SPOOL_SUBDIR}`;
}
