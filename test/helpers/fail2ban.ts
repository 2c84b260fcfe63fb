/**
 * The real fail2ban-server in tests: an isolated instance per "host" (own config dir, socket, pidfile,
 * database and log), started in the foreground as a child of the test so that the test owns it.
 * Facts behind the choices here: /work/shared/notes/fail2ban-in-tests.md.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { waitFor } from "./wait.js";

const run = promisify(execFile);

/** Repository root (this file runs as dist/test/helpers/fail2ban.js). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** A file shipped in the repository's fail2ban/ folder, e.g. `repoFail2banFile("filter.d/f2bp2p.conf")`. */
export function repoFail2banFile(relative: string): string {
  return fs.readFileSync(path.join(REPO_ROOT, "fail2ban", relative), "utf8");
}

const INSTALL_HINT = "apt-get install fail2ban python3-pyinotify";
let installed: Promise<boolean> | undefined;

/** Absolute path of an executable found on the test's PATH, or undefined. */
function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const file = path.resolve(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

let programs: { server: string; client: string } | undefined;

function fail2banPrograms(): { server: string; client: string } {
  const server = which("fail2ban-server");
  const client = which("fail2ban-client");
  if (server === undefined || client === undefined)
    throw new Error(`fail2ban-server/fail2ban-client not found on PATH (${INSTALL_HINT})`);
  programs ??= { server, client };
  return programs;
}

/** True when both fail2ban-server and fail2ban-client are on PATH and run. */
export function fail2banInstalled(): Promise<boolean> {
  installed ??= (async () => {
    try {
      const { server, client } = fail2banPrograms();
      await Promise.all([
        run(server, ["--version"], { timeout: 10_000 }),
        run(client, ["--version"], { timeout: 10_000 }),
      ]);
      return true;
    } catch {
      return false;
    }
  })();
  return installed;
}

/**
 * The rule for tests that need the real fail2ban: when it is not installed, fail on CI (`CI` set),
 * skip elsewhere. Returns false when the test was skipped: the caller must return at once.
 */
export async function requireFail2ban(t: TestContext): Promise<boolean> {
  if (await fail2banInstalled()) return true;
  if (process.env.CI)
    assert.fail(`fail2ban-server/fail2ban-client not found: install fail2ban (${INSTALL_HINT})`);
  t.skip(`fail2ban is not installed (${INSTALL_HINT}; with CI set this test fails instead)`);
  return false;
}

/** One section of jail.local: `[name]` with its settings. `DEFAULT` is fail2ban's [DEFAULT]. */
export type JailSettings = Readonly<Record<string, string | number | boolean>>;

export interface Fail2banSetup {
  /** Absolute folder of this instance: conf/, fail2ban.log, f2b.sock, f2b.pid, f2b.sqlite3 go here. */
  readonly dir: string;
  /** Sections of jail.local, by name (in order). */
  readonly jails: Readonly<Record<string, JailSettings>>;
  /** filter.d/NAME.conf contents, by NAME. */
  readonly filters?: Readonly<Record<string, string>>;
  /** action.d/NAME.conf contents, by NAME. */
  readonly actions?: Readonly<Record<string, string>>;
  /** Any other file under conf/, by relative path, e.g. `jail.d/f2bp2p.conf` (the shipped one). */
  readonly files?: Readonly<Record<string, string>>;
  /**
   * Environment of the server, hence of every action it runs. By default a service's minimal one
   * (PATH of the system folders and fail2ban's own, nothing else from the test), as under systemd.
   */
  readonly env?: NodeJS.ProcessEnv;
  /** fail2ban's loglevel; INFO by default (bans are NOTICE, matches are INFO). */
  readonly loglevel?: "CRITICAL" | "ERROR" | "WARNING" | "NOTICE" | "INFO" | "DEBUG";
}

export interface Fail2ban {
  readonly socket: string;
  readonly confDir: string;
  /** fail2ban's own log (its `logtarget`). */
  readonly logFile: string;
  /** Runs `fail2ban-client -s SOCKET ...args` and returns its stdout; rejects on a non-zero exit. */
  client(...args: string[]): Promise<string>;
  /** `get JAIL banned`: the IPs the jail currently bans. */
  banned(jail: string): Promise<string[]>;
  /** `status JAIL` as fail2ban prints it. */
  status(jail: string): Promise<string>;
  /** Stops and starts the server again on the same configuration and database (bans are restored). */
  restart(): Promise<void>;
  /** Stops the server (`fail2ban-client stop`, then signals); safe to call twice. */
  stop(): Promise<void>;
  /** The server's stdout/stderr and the tail of its log, for failure messages. */
  describe(): string;
}

/** Unix socket paths longer than this do not fit in sockaddr_un (108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

const live = new Set<ChildProcess>();
// Last resort if the test process ends without its cleanup (crash, runner timeout): no orphans.
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function ini(sections: Readonly<Record<string, JailSettings>>): string {
  return Object.entries(sections)
    .map(([name, settings]) => {
      const lines = Object.entries(settings).map(([key, value]) => {
        // A multi-line value (several actions) continues on indented lines, as in fail2ban's own files.
        const text = String(value).split("\n").join("\n         ");
        return `${key} = ${text}`;
      });
      return `[${name}]\n${lines.join("\n")}\n`;
    })
    .join("\n");
}

/** Parses fail2ban-client's `get JAIL banned` answer, a Python list such as `['192.0.2.1', '2001:db8::1']`. */
export function parseBannedList(text: string): string[] {
  return [...text.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
}

/**
 * Writes a minimal isolated configuration into `setup.dir` (fresh database) and starts
 * `fail2ban-server -f -x` as a child process; resolves once `fail2ban-client ping` answers.
 */
export async function startFail2ban(setup: Fail2banSetup): Promise<Fail2ban> {
  const dir = path.resolve(setup.dir);
  const confDir = path.join(dir, "conf");
  const socket = path.join(dir, "f2b.sock");
  const pidfile = path.join(dir, "f2b.pid");
  const dbfile = path.join(dir, "f2b.sqlite3");
  const logFile = path.join(dir, "fail2ban.log");
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH)
    throw new Error(`fail2ban socket path too long (${Buffer.byteLength(socket)} bytes): ${socket}`);

  for (const sub of ["filter.d", "action.d", "jail.d"])
    fs.mkdirSync(path.join(confDir, sub), { recursive: true });
  fs.writeFileSync(
    path.join(confDir, "fail2ban.conf"),
    ini({
      Definition: {
        loglevel: setup.loglevel ?? "INFO",
        logtarget: logFile,
        syslogsocket: "auto",
        socket,
        pidfile,
        allowipv6: "auto",
        dbfile,
        dbpurgeage: "1d",
      },
    }),
  );
  fs.writeFileSync(path.join(confDir, "jail.local"), ini(setup.jails));
  for (const [name, text] of Object.entries(setup.filters ?? {}))
    fs.writeFileSync(path.join(confDir, "filter.d", `${name}.conf`), text);
  for (const [name, text] of Object.entries(setup.actions ?? {}))
    fs.writeFileSync(path.join(confDir, "action.d", `${name}.conf`), text);
  for (const [relative, text] of Object.entries(setup.files ?? {})) {
    const file = path.join(confDir, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  fs.rmSync(dbfile, { force: true });

  let server: { proc: ChildProcess; exited: Promise<void>; done: boolean } | undefined;
  let output = "";
  let stopping: Promise<void> | undefined;

  const programs = fail2banPrograms();
  const env = setup.env ?? {
    PATH: [...new Set([path.dirname(programs.server), "/usr/sbin", "/usr/bin", "/sbin", "/bin"])].join(":"),
    LANG: "C.UTF-8",
  };
  const client = async (...args: string[]): Promise<string> =>
    (await run(programs.client, ["-s", socket, ...args], { timeout: 15_000 })).stdout;

  const describe = (): string => {
    const log = fs.existsSync(logFile)
      ? fs.readFileSync(logFile, "utf8").split("\n").slice(-40).join("\n")
      : "";
    const exit = server?.proc.exitCode ?? server?.proc.signalCode ?? "-";
    return `fail2ban-server in ${dir} (exit ${exit}):\n${output}\n--- ${logFile} (tail):\n${log}`;
  };

  const stop = (): Promise<void> => {
    const current = server;
    if (current === undefined || current.done) return Promise.resolve();
    stopping ??= (async () => {
      const within = (ms: number): Promise<boolean> =>
        Promise.race([
          current.exited.then(() => true),
          new Promise<boolean>((resolve) => setTimeout(resolve, ms, false).unref()),
        ]);
      await client("stop").catch(() => undefined);
      if (await within(10_000)) return;
      current.proc.kill("SIGTERM");
      if (await within(5_000)) return;
      current.proc.kill("SIGKILL");
      await current.exited;
    })();
    return stopping;
  };

  const start = async (): Promise<void> => {
    stopping = undefined;
    output = "";
    const proc = spawn(programs.server, ["-c", confDir, "-s", socket, "-p", pidfile, "-f", "-x"], {
      stdio: ["ignore", "pipe", "pipe"],
      env,
    });
    live.add(proc);
    const current = {
      proc,
      done: false,
      exited: new Promise<void>((resolve) => {
        proc.once("exit", () => resolve());
        proc.once("error", (err) => {
          output += `cannot run fail2ban-server: ${err.message}\n`;
          resolve();
        });
      }),
    };
    void current.exited.then(() => {
      current.done = true;
      live.delete(proc);
    });
    server = current;
    proc.stdout!.on("data", (d: Buffer) => {
      output += d.toString();
    });
    proc.stderr!.on("data", (d: Buffer) => {
      output += d.toString();
    });
    try {
      await waitFor(
        async () =>
          current.done ||
          (await client("ping").then(
            () => true,
            () => false,
          )),
        20_000,
        `fail2ban-server ping on ${socket}`,
      );
      if (current.done) throw new Error("fail2ban-server exited at start");
    } catch (err: unknown) {
      await stop();
      throw new Error(`${(err as Error).message}\n${describe()}`);
    }
  };

  await start();
  return {
    socket,
    confDir,
    logFile,
    client,
    banned: async (jail) => parseBannedList(await client("get", jail, "banned")),
    status: (jail) => client("status", jail),
    restart: async () => {
      await stop();
      await start();
    },
    stop,
    describe,
  };
}
