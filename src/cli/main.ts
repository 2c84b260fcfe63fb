import yargs from "yargs";
import { DEFAULT_FRIEND_TRUST, LIMITS, UNBAN_APPLY_DEFAULTS } from "../config/defaults.js";
import { findConfigPath, loadNodeConfig } from "../config/load.js";
import { DEFAULT_REVOKE_REASON } from "../node/control-protocol.js";
import type { FriendWorthReport } from "../node/friend-worth.js";
import { BANS_SORT_KEYS, type BansSortKey } from "./bans-options.js";
import { askNode, ControlAccessError, NodeNotRunningError } from "./control-client.js";
import { demo } from "./demo.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, explain, UsageError } from "./errors.js";
import { keygen } from "./keygen.js";
import { jsonDocument, OUTPUT_OPTIONS, outputFormat } from "./output.js";
import { runReport } from "./report-fast.js";
import { run } from "./run.js";
import { formatScore, formatStatus } from "./status-view.js";

/**
 * The f2bp2p command line. Only this folder touches the console and exit codes; main() returns the
 * exit code so tests can call it in-process.
 */
export async function main(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let exitCode = EXIT_OK;
  const parser = yargs([...args])
    .scriptName("f2bp2p")
    .usage(
      "$0 <command> [options]\n\nShare fail2ban bans with friends' servers: signed, trust-weighted, peer to peer.",
    )
    .option("config", {
      alias: "c",
      type: "string",
      description: "Config file [default: $F2BP2P_CONFIG, then /etc/f2bp2p/f2bp2p.yaml]",
      global: true,
    })
    .command(
      "keygen",
      "Create this node's keys and print the friend block to give to friends",
      (y) =>
        y
          .option("name", { type: "string", demandOption: true, description: "This node's name, e.g. alpha" })
          .option("endpoint", {
            type: "string",
            demandOption: true,
            description: "Where friends reach this node, e.g. tcp://alpha.example.net:7711",
          })
          .option("trust", {
            type: "number",
            default: DEFAULT_FRIEND_TRUST,
            description: `Trust suggested to friends (${LIMITS.trust.min}-${LIMITS.trust.max})`,
          })
          .option("keys-dir", {
            type: "string",
            description: "Where to write node.key/node.pub [default: keys/ beside the config]",
          })
          .option("out", { type: "string", description: "Also write the friend block to this file" })
          .options(OUTPUT_OPTIONS)
          .option("force", {
            type: "boolean",
            default: false,
            description: "Replace existing keys (friends must re-pair)",
          })
          .example("$0 keygen --name alpha --endpoint tcp://alpha.example.net:7711", "")
          .example("$0 keygen --name alpha --endpoint tcp://192.0.2.10:7711 --out alpha.yaml", ""),
      (a) => {
        const result = keygen(
          {
            name: a.name,
            endpoint: a.endpoint,
            trust: a.trust,
            keysDir: a["keys-dir"],
            config: a.config,
            force: a.force,
            out: a.out,
          },
          env,
        );
        process.stderr.write(`created node ${result.id}:\n${result.files.map((f) => `  ${f}`).join("\n")}\n`);
        if (outputFormat(a) === "json") {
          process.stdout.write(jsonDocument({ id: result.id, files: result.files, friend: result.friend }));
          return;
        }
        process.stderr.write("give this block to each friend; they save it as friends.d/<name>.yaml:\n\n");
        process.stdout.write(result.friend.block);
      },
    )
    .command(
      "friend-block",
      "Print the friend block to give a friend, from this node's config and keys",
      (y) =>
        y
          .option("endpoint", {
            type: "string",
            description: "Where friends reach this node [default: listen, when it names a host]",
          })
          .option("trust", { type: "number", default: 80, description: "Trust suggested to friends (0-100)" })
          .options(OUTPUT_OPTIONS)
          .example("$0 friend-block --endpoint tcp://alpha.example.net:7711", ""),
      async (a) => {
        const { friendBlockFor } = await import("./friend-block.js");
        const friend = friendBlockFor({ config: a.config, endpoint: a.endpoint, trust: a.trust }, env);
        process.stdout.write(outputFormat(a) === "json" ? jsonDocument({ friend }) : friend.block);
      },
    )
    .command("run", "Run the node in the foreground (systemd runs it this way)", {}, async (a) => {
      exitCode = await run(a.config as string | undefined, env);
    })
    .command(
      "report <ip>",
      "Report an IP banned here; exits 0 once the local node has it, or has it queued in the spool when the node gives no answer (fail2ban's action runs this)",
      (y) =>
        y
          .positional("ip", { type: "string", demandOption: true, description: "IPv4 or IPv6 address" })
          .option("jail", {
            type: "string",
            description:
              "The fail2ban jail that banned it (any name: a longer one is carried as a 32-character label)",
          })
          .options(OUTPUT_OPTIONS)
          .example("$0 report 203.0.113.7 --jail sshd", "")
          .epilog(
            "Exit status: 0 reported or queued in spool_dir (the node takes it in when it runs); 1 the node gave no answer and the report could not be queued (the message says why); 2 bad address; 4 reported and shared, but the ban line could not be written here yet.",
          ),
      async (a) => {
        exitCode = await runReport({
          config: a.config,
          ip: a.ip,
          jail: a.jail,
          json: outputFormat(a) === "json",
        });
      },
    )
    .command(
      "revoke <ip>",
      "Take back this node's own report of an IP: friends stop counting it and lift their bans of it",
      (y) =>
        y
          .positional("ip", { type: "string", demandOption: true, description: "IPv4 or IPv6 address" })
          .option("reason", {
            type: "string",
            description: `Why, shown in friends' logs and status (at most 64 printable ASCII characters) [default: "${DEFAULT_REVOKE_REASON}"]`,
          })
          .options(OUTPUT_OPTIONS)
          .example("$0 revoke 203.0.113.7 --reason 'office address, reported by mistake'", "")
          .epilog(
            "Only the node that reported an address can revoke its report. Every friend removes its contribution and, where the score falls below the threshold, lifts its ban (UNBAN line, which f2bp2p unban-apply hands to fail2ban); friends that are down get the revocation by catch-up sync. Exit status: 0 revoked; 1 this node holds no live report of its own of the address, or the node gave no answer; 2 bad address or reason.",
          ),
      async (a) => {
        const config = loadNodeConfig(findConfigPath(a.config as string | undefined, env));
        const { runRevoke } = await import("./revoke.js");
        exitCode = await runRevoke(config, {
          ip: a.ip,
          reason: a.reason,
          json: outputFormat(a) === "json",
        });
      },
    )
    .command(
      "status",
      "Show what the running node is doing: friends, counters, rejections; or one address's score",
      (y) =>
        y
          .option("ip", { type: "string", description: "Show this address's score and who reported it" })
          .options(OUTPUT_OPTIONS)
          .example("$0 status", "")
          .example("$0 status --ip 203.0.113.7", "")
          .example("$0 status -o json", "")
          .option("worth", {
            type: "boolean",
            default: false,
            description: "Show what each friend is worth: confirmations, lead time, bans, refusals",
          })
          .example("$0 status --worth", ""),
      async (a) => {
        const config = loadNodeConfig(findConfigPath(a.config as string | undefined, env));
        try {
          exitCode = await status(config.controlSocket, a.ip, outputFormat(a) === "json", a.worth);
        } catch (err: unknown) {
          if (!(err instanceof NodeNotRunningError || err instanceof ControlAccessError)) throw err;
          process.stderr.write(`f2bp2p status: ${err.message}\n`);
          exitCode = EXIT_FAILURE;
        }
      },
    )
    .command(
      "bans",
      "List what the node knows: every address with live reports, its score, ban and origins (from the store)",
      (y) =>
        y
          .option("ip", { type: "string", description: "Only this address" })
          .option("banned", { type: "boolean", default: false, description: "Only addresses banned here" })
          .option("sort", {
            choices: BANS_SORT_KEYS,
            default: "ip" as BansSortKey,
            description: "Order of the list (score: highest first)",
          })
          .options(OUTPUT_OPTIONS)
          .example("$0 bans --banned --sort score", "")
          .example("$0 bans --ip 203.0.113.7 -o json", ""),
      async (a) => {
        const { bans } = await import("./bans.js");
        process.stdout.write(
          bans(
            {
              config: a.config as string | undefined,
              ip: a.ip,
              banned: a.banned,
              sort: a.sort,
              json: outputFormat(a) === "json",
            },
            env,
          ),
        );
      },
    )
    .command(
      "unban-apply",
      "Have fail2ban lift the bans the node lifted: apply the UNBAN lines added to the bans log since the last run (root; the f2bp2p-unban units run it)",
      (y) =>
        y
          .option("bans-log", {
            type: "string",
            description: "The bans log [default: bans_log of the config]",
          })
          .option("position", {
            type: "string",
            description: `Where the read position is kept [default: ${UNBAN_APPLY_DEFAULTS.position_file}]`,
          })
          .option("jail", {
            type: "string",
            default: UNBAN_APPLY_DEFAULTS.jail,
            description: "The fail2ban jail that reads the bans log",
          })
          .option("fail2ban-client", {
            type: "string",
            default: UNBAN_APPLY_DEFAULTS.fail2ban_client,
            description: "The fail2ban-client command",
          })
          .option("fail2ban-socket", {
            type: "string",
            description: "fail2ban's socket (fail2ban-client -s) [default: fail2ban's own]",
          })
          .example("$0 unban-apply", "")
          .epilog(
            "Exit status: 0 every new UNBAN line applied (or none); 1 the bans log or the position file could not be used, or fail2ban refused an unban (the next run starts again with it).",
          ),
      async (a) => {
        const { runUnbanApply } = await import("./unban-apply.js");
        exitCode = await runUnbanApply(
          {
            config: a.config as string | undefined,
            bansLog: a["bans-log"],
            position: a.position,
            jail: a.jail,
            fail2banClient: a["fail2ban-client"],
            fail2banSocket: a["fail2ban-socket"],
          },
          env,
        );
      },
    )
    .command(
      "export",
      "Write the node's live origin-signed reports to stdout in the signed export format (docs/export.md)",
      (y) =>
        y
          .option("since", {
            type: "string",
            description: "Only reports made at most this long ago (e.g. 3600, 90s, 30m, 24h, 7d)",
          })
          .example("$0 export > reports.f2bx", "")
          .example("$0 export --since 24h > last-day.f2bx", ""),
      async (a) => {
        const { exportReports, writeExport } = await import("./export.js");
        const result = exportReports({ config: a.config as string | undefined, since: a.since }, env);
        writeExport(result.file);
        process.stderr.write(
          `exported ${result.reports} report(s)${result.skipped > 0 ? `; ${result.skipped} damaged on disk left out` : ""}\n`,
        );
      },
    )
    .command(
      "import <file>",
      "Verify every signature in an export file, then give its reports to the running node as from a friend with trust T",
      (y) =>
        y
          .positional("file", { type: "string", demandOption: true, description: "An f2bp2p export file" })
          .option("trust", {
            type: "number",
            demandOption: true,
            description: "Trust given to the file's reports, as to a friend (0-100)",
          })
          .option("relay", {
            type: "boolean",
            default: false,
            description: "Pass the imported reports on to friends (by default they stay here)",
          })
          .example("$0 import reports.f2bx --trust 60", "")
          .epilog(
            "Exit status: 0 imported; 1 the node is not running or failed to store them; 2 bad input: the file is not an intact export (altered, cut off) or --trust is out of range; nothing was imported.",
          ),
      async (a) => {
        const { importFile, ImportRefusedError } = await import("./import.js");
        try {
          const t = await importFile(
            { config: a.config as string | undefined, file: a.file, trust: a.trust, relay: a.relay },
            env,
          );
          process.stdout.write(
            `${a.file}: ${t.reports} report(s) verified; ${t.accepted} applied, ${t.known} already held, ` +
              `${t.own} our own, ${t.expired} expired, ${t.overQuota} over the quota, ${t.invalid} refused by the node\n`,
          );
        } catch (err: unknown) {
          if (err instanceof ImportRefusedError) {
            process.stderr.write(`f2bp2p import: ${err.message}\n`);
            exitCode = EXIT_USAGE;
            return;
          }
          if (!(err instanceof NodeNotRunningError || err instanceof ControlAccessError)) throw err;
          process.stderr.write(`f2bp2p import: ${err.message}; nothing was imported\n`);
          exitCode = EXIT_FAILURE;
        }
      },
    )
    .command(
      "check",
      "Validate the config, keys and friends.d without starting (exit 0 when all is well); --online also tests friends, fail2ban, clock and spool",
      (y) =>
        y
          .option("online", {
            type: "boolean",
            default: false,
            description:
              "Also check the running system: each friend resolves, connects and admits our key; a fail2ban jail watches the bans log; the clock is synchronised; the spool is empty",
          })
          .option("fail2ban-socket", {
            type: "string",
            description: "fail2ban-client's socket (-s) when fail2ban does not use its default one",
          })
          .option("fail2ban-config", {
            type: "string",
            default: "/etc/fail2ban",
            description: "Jail configuration read when fail2ban-server cannot be asked",
          })
          .option("timeout", {
            type: "number",
            default: 10,
            description: "Seconds to wait for each friend's CURVE handshake",
          })
          .options(OUTPUT_OPTIONS)
          .example("$0 check", "")
          .example("$0 check --online", "")
          .example("$0 check -o json", "")
          .epilog(
            "Exit status: 0 all is well (with --online: no warning or problem line); 2 the config, keys or friends.d are wrong; with --online, 5 a warning line (works, but look at it), 6 a problem line (something does not work).",
          ),
      async (a) => {
        if (!(a.timeout > 0 && a.timeout <= 300))
          throw new UsageError("--timeout must be from 1 to 300 seconds");
        const { checkConfig, checkExitCode, checkFailure, formatCheck } = await import("./check.js");
        const configOption = a.config as string | undefined;
        const online = a.online
          ? {
              fail2banSocket: a["fail2ban-socket"],
              fail2banConfig: a["fail2ban-config"],
              timeoutMs: a.timeout * 1000,
            }
          : undefined;
        if (outputFormat(a) === "human") {
          const passed = await checkConfig(configOption, env, online);
          process.stdout.write(formatCheck(passed));
          exitCode = checkExitCode(passed);
          return;
        }
        try {
          const passed = await checkConfig(configOption, env, online);
          process.stdout.write(jsonDocument({ ...passed }));
          exitCode = checkExitCode(passed);
        } catch (err: unknown) {
          const failure = checkFailure(configOption, env, err);
          if (failure === undefined) throw err;
          process.stdout.write(jsonDocument({ ...failure }));
          exitCode = EXIT_USAGE;
        }
      },
    )
    .command(
      "demo",
      "Run a small friend network on loopback, report one IP and show how far its trust travels",
      (y) =>
        y.option("nodes", { type: "number", default: 6, description: "Nodes in the demo network (4-6)" }),
      async (a) => {
        exitCode = await demo({ nodes: a.nodes, out: (s) => process.stdout.write(s) });
      },
    )
    .completion(
      "completion",
      "Print a bash/zsh completion script: f2bp2p completion >> ~/.bashrc (or /etc/bash_completion.d/f2bp2p)",
    )
    .demandCommand(1, "name a command; see --help")
    .strict()
    .recommendCommands()
    .help()
    .alias("help", "h")
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .exitProcess(false)
    .fail((message, err) => {
      throw err ?? new UsageErrorFromYargs(message);
    });
  try {
    await parser.parseAsync();
    return exitCode;
  } catch (err: unknown) {
    if (err instanceof UsageErrorFromYargs) {
      process.stderr.write(`f2bp2p: ${err.message}\nrun 'f2bp2p --help' for usage\n`);
      return EXIT_USAGE;
    }
    const known = explain(err);
    if (known !== undefined) {
      process.stderr.write(`f2bp2p: ${known.message}\n`);
      return known.exitCode;
    }
    process.stderr.write(`f2bp2p: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_FAILURE;
  }
}

async function status(
  socketPath: string,
  ip: string | undefined,
  json: boolean,
  worth = false,
): Promise<number> {
  if (worth && !json) {
    const answer = await askNode(socketPath, { op: "status" });
    const report = answer.ok && answer.status === "status" ? answer.node.worth : undefined;
    if (report === undefined) {
      process.stderr.write("f2bp2p status: the node gave no friend worth (is it an older version?)\n");
      return EXIT_FAILURE;
    }
    const { formatWorthTable } = await import("../node/friend-worth.js");
    process.stdout.write(formatWorthTable(report as FriendWorthReport));
    return EXIT_OK;
  }
  if (ip === undefined) {
    const answer = await askNode(socketPath, { op: "status" });
    if (!answer.ok || answer.status !== "status") {
      process.stderr.write(`f2bp2p status: unexpected answer from the node: ${JSON.stringify(answer)}\n`);
      return EXIT_FAILURE;
    }
    process.stdout.write(json ? jsonDocument(answer.node) : formatStatus(answer.node));
    return EXIT_OK;
  }
  const answer = await askNode(socketPath, { op: "score", ip });
  if (!answer.ok) {
    process.stderr.write(`f2bp2p status: ${answer.message}\n`);
    return EXIT_USAGE;
  }
  if (answer.status !== "score") {
    process.stderr.write(`f2bp2p status: unexpected answer from the node: ${JSON.stringify(answer)}\n`);
    return EXIT_FAILURE;
  }
  const { ok: _ok, status: _status, ...score } = answer;
  process.stdout.write(json ? jsonDocument(score) : formatScore(answer));
  return EXIT_OK;
}

class UsageErrorFromYargs extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
