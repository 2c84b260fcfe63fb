/**
 * Is the node's bans log watched by a fail2ban jail that exists and is enabled? Asked of the running
 * fail2ban-server through fail2ban-client (`status`, then `get JAIL logpath` per jail); when it cannot
 * be asked (not installed, not running), read from the jail configuration (jail.conf, jail.d/*.conf,
 * jail.local, jail.d/*.local, in fail2ban's order), which says what would run, not what runs.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export type CommandRunner = (file: string, args: readonly string[]) => Promise<string>;

const CLIENT_TIMEOUT_MS = 10_000;

const runCommand: CommandRunner = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: CLIENT_TIMEOUT_MS }, (err, stdout, stderr) =>
      err ? reject(Object.assign(err, { stderr: String(stderr) })) : resolve(stdout),
    );
  });

export type JailWatch =
  /** fail2ban-server answered: the jails watching the bans log (empty: none does). */
  | {
      readonly source: "fail2ban-client";
      readonly jails: readonly string[];
      readonly running: readonly string[];
    }
  /** fail2ban could not be asked (why); the enabled jails whose logpath in the configuration is the bans log. */
  | {
      readonly source: "config";
      readonly why: string;
      readonly jails: readonly string[];
      readonly configDir: string;
    };

export interface JailWatchOptions {
  /** fail2ban-client's socket (-s); its default when undefined. */
  readonly socket?: string;
  /** Where the jail configuration lives, for the fallback; /etc/fail2ban by default. */
  readonly configDir?: string;
  readonly run?: CommandRunner;
}

/** The jail list of `fail2ban-client status`. */
export function parseJailList(stdout: string): string[] {
  const m = /Jail list:[ \t]*(.*)$/m.exec(stdout);
  if (!m) return [];
  return m[1]!
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The files of `fail2ban-client get JAIL logpath` ("|- /a", "`- /b" lines). */
export function parseLogpaths(stdout: string): string[] {
  return stdout
    .split("\n")
    .map((line) => /^\s*[|`]-\s*(.+?)\s*$/.exec(line)?.[1])
    .filter((p): p is string => p !== undefined);
}

function sameFile(a: string, b: string): boolean {
  const real = (p: string): string => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  return real(a) === real(b);
}

/** Asks fail2ban, or reads its configuration when it cannot be asked. Never rejects. */
export async function jailsWatching(bansLog: string, options: JailWatchOptions = {}): Promise<JailWatch> {
  const run = options.run ?? runCommand;
  const base = options.socket === undefined ? [] : ["-s", options.socket];
  let why: string;
  try {
    const running = parseJailList(await run("fail2ban-client", [...base, "status"]));
    const jails: string[] = [];
    for (const jail of running) {
      const files = parseLogpaths(await run("fail2ban-client", [...base, "get", jail, "logpath"]));
      if (files.some((f) => sameFile(f, bansLog))) jails.push(jail);
    }
    return { source: "fail2ban-client", jails, running };
  } catch (err: unknown) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    why =
      e.code === "ENOENT"
        ? "fail2ban-client is not installed"
        : `fail2ban-server does not answer (${(e.stderr ?? e.message).trim().split("\n").pop()})`;
  }
  const configDir = options.configDir ?? "/etc/fail2ban";
  return { source: "config", why, jails: configuredJailsWatching(configDir, bansLog), configDir };
}

/** Enabled jails of the configuration in `dir` whose logpath names `bansLog`. */
export function configuredJailsWatching(dir: string, bansLog: string): string[] {
  const files = [
    path.join(dir, "jail.conf"),
    ...listSorted(path.join(dir, "jail.d"), ".conf"),
    path.join(dir, "jail.local"),
    ...listSorted(path.join(dir, "jail.d"), ".local"),
  ];
  const sections = new Map<string, Map<string, string>>();
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    parseIni(text, sections);
  }
  const defaults = sections.get("DEFAULT") ?? new Map<string, string>();
  const watching: string[] = [];
  for (const [name, keys] of sections) {
    if (name === "DEFAULT" || name === "INCLUDES") continue;
    const enabled = (keys.get("enabled") ?? defaults.get("enabled") ?? "false").trim().toLowerCase();
    if (!["true", "yes", "1", "on"].includes(enabled)) continue;
    const logpath = keys.get("logpath") ?? "";
    if (logpath.split(/\s+/).some((p) => p !== "" && sameFile(p, bansLog))) watching.push(name);
  }
  return watching;
}

function listSorted(dir: string, ext: string): string[] {
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(ext))
      .sort()
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/** Python configparser's subset fail2ban uses: [sections], key = value, indented continuations, # ; comments. */
function parseIni(text: string, into: Map<string, Map<string, string>>): void {
  let section: Map<string, string> | undefined;
  let lastKey: string | undefined;
  for (const raw of text.split("\n")) {
    if (/^\s*[#;]/.test(raw) || raw.trim() === "") continue;
    const header = /^\[([^\]]+)\]\s*$/.exec(raw);
    if (header) {
      const name = header[1]!.trim();
      section = into.get(name) ?? new Map();
      into.set(name, section);
      lastKey = undefined;
      continue;
    }
    if (section === undefined) continue;
    if (/^\s/.test(raw) && lastKey !== undefined) {
      section.set(lastKey, `${section.get(lastKey)} ${raw.trim()}`);
      continue;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(raw);
    if (kv) {
      lastKey = kv[1]!.trim().toLowerCase();
      section.set(lastKey, kv[2]!.trim());
    }
  }
}
