/**
 * `f2bp2p check --online`: what only the running system can tell, one finding per line: each
 * friend's endpoint resolves, connects and admits our key (a real CURVE handshake), a fail2ban jail
 * watches the bans log, this host's clock is synchronised, the spool is empty.
 */
import fs from "node:fs";
import path from "node:path";
import { type OwnClock, probeOwnClock } from "../clock/own-clock.js";
import type { FriendConfig, NodeConfig } from "../config/types.js";
import { type JailWatch, jailsWatching } from "../fail2ban/jail-watch.js";
import type { Identity } from "../keys/identity.js";
import { isSpoolFileName, SPOOL_BAD_DIR } from "../spool/spool-file.js";
import { type ProbeOutcome, probeFriend } from "../transport/probe.js";
import { EXIT_CHECK_PROBLEMS, EXIT_CHECK_WARNINGS, EXIT_OK } from "./exit-codes.js";

/** ok: works; note: worth knowing, nothing to do; warning: works, but look at it; problem: does not work. */
export type Severity = "ok" | "note" | "warning" | "problem";

export interface Finding {
  readonly severity: Severity;
  readonly text: string;
}

export interface OnlineOptions {
  /** fail2ban-client's socket, when fail2ban does not use its default one. */
  readonly fail2banSocket?: string;
  /** Jail configuration read when fail2ban cannot be asked; /etc/fail2ban by default. */
  readonly fail2banConfig?: string;
  /** Longest wait for one friend's handshake, ms. */
  readonly timeoutMs?: number;
  /** Clock probe (tests of the other findings on hosts whose clock state varies use the real one). */
  readonly clock?: () => Promise<OwnClock>;
}

export function formatFinding(f: Finding): string {
  return `${f.severity}: ${f.text}`;
}

/** Exit status of `check --online` by the worst finding: 6 a problem, 5 a warning, else 0. */
export function exitCodeFor(findings: readonly Finding[]): number {
  if (findings.some((f) => f.severity === "problem")) return EXIT_CHECK_PROBLEMS;
  if (findings.some((f) => f.severity === "warning")) return EXIT_CHECK_WARNINGS;
  return EXIT_OK;
}

export async function onlineFindings(
  config: NodeConfig,
  identity: Identity,
  friends: readonly FriendConfig[],
  options: OnlineOptions = {},
): Promise<Finding[]> {
  const [probes, jails, clock] = await Promise.all([
    Promise.all(
      friends.map((f) =>
        probeFriend(
          {
            endpoint: f.endpoint,
            serverKey: f.curveKey,
            curvePublicKey: identity.curvePublicKey,
            curveSecretKey: identity.curveSecretKey,
          },
          options.timeoutMs,
        ),
      ),
    ),
    jailsWatching(config.bansLog, { socket: options.fail2banSocket, configDir: options.fail2banConfig }),
    (options.clock ?? probeOwnClock)(),
  ]);
  return [
    ...friends.map((f, i) => friendFinding(f, probes[i]!)),
    jailFinding(config.bansLog, jails),
    clockFinding(clock),
    ...spoolFindings(config.spoolDir),
  ];
}

export function friendFinding(friend: FriendConfig, probe: ProbeOutcome): Finding {
  const who = `friend ${friend.name} (${friend.endpoint})`;
  if (probe.ok) return { severity: "ok", text: `${who}: resolves, connects and admits our key` };
  const stage = {
    resolve: "does not resolve",
    connect: "cannot connect",
    handshake: "handshake fails",
    admit: "does not admit our key",
  }[probe.stage];
  return { severity: "problem", text: `${who}: ${stage}: ${probe.detail}` };
}

export function jailFinding(bansLog: string, watch: JailWatch): Finding {
  if (watch.source === "fail2ban-client") {
    if (watch.jails.length > 0)
      return {
        severity: "ok",
        text: `bans log ${bansLog} is watched by fail2ban jail ${watch.jails.join(", ")}`,
      };
    return {
      severity: "problem",
      text:
        `no running fail2ban jail watches the bans log ${bansLog} (running jails: ${watch.running.join(", ") || "none"}): ` +
        "install jail.d/f2bp2p.conf, set its logpath to the bans log and reload fail2ban (docs/fail2ban.md)",
    };
  }
  if (watch.jails.length > 0)
    return {
      severity: "warning",
      text: `${watch.why}; in ${watch.configDir}, enabled jail ${watch.jails.join(", ")} watches the bans log ${bansLog}, but whether it runs is unknown`,
    };
  return {
    severity: "problem",
    text: `${watch.why}, and no enabled jail in ${watch.configDir} watches the bans log ${bansLog}: bans reach no firewall (docs/fail2ban.md)`,
  };
}

export function clockFinding(clock: OwnClock): Finding {
  const source = clock.source === undefined ? "" : ` (${clock.source})`;
  if (clock.state === "synchronised") return { severity: "ok", text: `clock is synchronised${source}` };
  if (clock.state === "not-synchronised")
    return {
      severity: "warning",
      text: `clock is not synchronised${source}: friends refuse reports from a clock far off (enable NTP: timedatectl set-ntp true, or chrony)`,
    };
  return {
    severity: "note",
    text: "clock synchronisation: unknown (neither timedatectl nor adjtimex could tell)",
  };
}

/** The spool should be empty while the node runs: reports left there have not reached it. */
export function spoolFindings(spoolDir: string): Finding[] {
  const count = (dir: string): number | string => {
    try {
      return fs.readdirSync(dir).filter(isSpoolFileName).length;
    } catch (err: unknown) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === "ENOENT" ? 0 : `cannot read it (${code ?? String(err)})`;
    }
  };
  const waiting = count(spoolDir);
  const bad = count(path.join(spoolDir, SPOOL_BAD_DIR));
  const findings: Finding[] = [];
  if (typeof waiting === "string")
    findings.push({ severity: "warning", text: `spool ${spoolDir}: ${waiting}` });
  else if (waiting === 0) findings.push({ severity: "ok", text: `spool ${spoolDir} is empty` });
  else
    findings.push({
      severity: "warning",
      text: `spool ${spoolDir} holds ${waiting} report(s) the node has not taken in: is the node running? (it takes them in at start)`,
    });
  if (typeof bad === "number" && bad > 0)
    findings.push({
      severity: "warning",
      text: `spool ${path.join(spoolDir, SPOOL_BAD_DIR)} holds ${bad} refused report file(s): the node's log says why`,
    });
  return findings;
}
