import yargs from "yargs";
import { DEFAULT_FRIEND_TRUST, LIMITS, UNBAN_APPLY_DEFAULTS } from "../config/defaults.js";
import { findConfigPath, loadNodeConfig } from "../config/load.js";
import type { ControlResponse } from "../node/control-protocol.js";
import { BANS_SORT_KEYS, type BansSortKey } from "./bans-options.js";
import { askNode, ControlAccessError, NodeNotRunningError } from "./control-client.js";
import { demo } from "./demo.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, explain } from "./errors.js";
import { keygen } from "./keygen.js";
import { runReport } from "./report-fast.js";
import { run } from "./run.js";

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
        process.stderr.write("give this block to each friend; they save it as friends.d/<name>.yaml:\n\n");
        process.stdout.write(result.block);
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
          .example("$0 friend-block --endpoint tcp://alpha.example.net:7711", ""),
      async (a) => {
        const { friendBlockFor } = await import("./friend-block.js");
        process.stdout.write(friendBlockFor({ config: a.config, endpoint: a.endpoint, trust: a.trust }, env));
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
          .example("$0 report 203.0.113.7 --jail sshd", "")
          .epilog(
            "Exit status: 0 reported or queued in spool_dir (the node takes it in when it runs); 1 the node gave no answer and the report could not be queued (the message says why); 2 bad address; 4 reported and shared, but the ban line could not be written here yet.",
          ),
      async (a) => {
        exitCode = await runReport({ config: a.config, ip: a.ip, jail: a.jail });
      },
    )
    .command(
      "status",
      "Show what the running node is doing: friends, counters, rejections; or one address's score",
      (y) =>
        y
          .option("ip", { type: "string", description: "Show this address's score and who reported it" })
          .example("$0 status", "")
          .example("$0 status --ip 203.0.113.7", ""),
      async (a) => {
        const config = loadNodeConfig(findConfigPath(a.config as string | undefined, env));
        try {
          exitCode = await status(config.controlSocket, a.ip);
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
          .option("json", {
            type: "boolean",
            default: false,
            description: "JSON (versioned shape) instead of a table",
          })
          .example("$0 bans --banned --sort score", "")
          .example("$0 bans --ip 203.0.113.7 --json", ""),
      async (a) => {
        const { bans } = await import("./bans.js");
        process.stdout.write(
          bans(
            {
              config: a.config as string | undefined,
              ip: a.ip,
              banned: a.banned,
              sort: a.sort,
              json: a.json,
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
      "check",
      "Validate the config, keys and friends.d without starting (exit 0 when all is well)",
      {},
      async (a) => {
        const { checkConfig } = await import("./check.js");
        process.stdout.write(`${await checkConfig(a.config as string | undefined, env)}\n`);
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

async function status(socketPath: string, ip: string | undefined): Promise<number> {
  if (ip === undefined) {
    const answer = await askNode(socketPath, { op: "status" });
    process.stdout.write(
      `${JSON.stringify(answer.ok && "node" in answer ? answer.node : answer, null, 2)}\n`,
    );
    return EXIT_OK;
  }
  const answer = await askNode(socketPath, { op: "score", ip });
  if (!answer.ok) {
    process.stderr.write(`f2bp2p status: ${answer.message}\n`);
    return EXIT_USAGE;
  }
  if (answer.status === "score") process.stdout.write(formatScore(answer));
  return EXIT_OK;
}

function formatScore(s: Extract<ControlResponse, { status: "score" }>): string {
  const lines = [
    `${s.ip}: score ${s.score} (threshold ${s.threshold}), ${s.banned ? "banned" : "not banned"}`,
  ];
  for (const o of s.origins)
    lines.push(`  origin ${o.origin}: trust ${o.trust}, ${o.hops} hop(s), via ${o.via}`);
  return `${lines.join("\n")}\n`;
}

class UsageErrorFromYargs extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
