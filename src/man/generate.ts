/**
 * Writes the man pages: f2bp2p(1), one f2bp2p-COMMAND(1) per command the CLI lists, and
 * f2bp2p.yaml(5). They are made from the CLI's own `--help` and from docs/configuration.md at
 * package build time, so they say what the program and the docs say.
 *
 *   node dist/src/man/generate.js OUT_DIR
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EXIT_USAGE } from "../cli/errors.js";
import { EXIT_STATUS } from "../cli/exit-codes.js";
import { type Help, type HelpEntry, parseHelp } from "./help.js";
import { escapeRoff, inline, markdownToRoff, quoteArg } from "./roff.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface ManPage {
  readonly file: string;
  readonly text: string;
}

/** The CLI's help for `args` (e.g. ["keygen"]), as a user running `f2bp2p ARGS --help` sees it. */
export function helpOf(args: readonly string[]): Help {
  const env: NodeJS.ProcessEnv = { ...process.env, F2BP2P_CONFIG: "" };
  delete env.COLUMNS;
  const text = execFileSync(process.execPath, [path.join(ROOT, "bin/f2bp2p.js"), ...args, "--help"], {
    encoding: "utf8",
    env,
  });
  return parseHelp(text);
}

/** Every man page, from the current CLI and docs. `date` is YYYY-MM-DD. */
export function manPages(date: string): ManPage[] {
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    version: string;
  };
  const th = (name: string, section: number): string =>
    `.TH ${quoteArg(name.toUpperCase())} ${section} ${quoteArg(date)} ${quoteArg(`f2bp2p ${version}`)} ${quoteArg("f2bp2p")}`;
  const top = helpOf([]);
  const commands = (top.sections.get("Commands") ?? []).map((c) => ({
    ...c,
    command: c.name.split(/\s+/)[1]!,
  }));
  const pages: ManPage[] = [{ file: "f2bp2p.1", text: mainPage(th("f2bp2p", 1), top, commands) }];
  for (const c of commands) {
    pages.push({
      file: `f2bp2p-${c.command}.1`,
      text: commandPage(th(`f2bp2p-${c.command}`, 1), c.command, helpOf([c.command])),
    });
  }
  pages.push({ file: "f2bp2p.yaml.5", text: configPage(th("f2bp2p.yaml", 5)) });
  return pages;
}

function options(entries: readonly HelpEntry[] | undefined): string[] {
  return (entries ?? []).flatMap((e) => {
    const tags = e.tags.filter((t) => t !== "boolean");
    const flags = e.name.replace(/(-{1,2}[\w-]+)/g, "\\fB$1\\fR").replace(/-/g, "\\-");
    return [
      ".TP",
      flags,
      `${inline(e.description)}${tags.length > 0 ? ` [${escapeRoff(tags.join(", "))}]` : ""}`,
    ];
  });
}

function mainPage(th: string, top: Help, commands: readonly (HelpEntry & { command: string })[]): string {
  return [
    th,
    ".SH NAME",
    `f2bp2p \\- ${escapeRoff(top.description.replace(/\.$/, "").replace(/^\w/, (c) => c.toLowerCase()))}`,
    ".SH SYNOPSIS",
    `\\fBf2bp2p\\fR \\fIcommand\\fR [\\fIoptions\\fR]`,
    ".SH DESCRIPTION",
    "When fail2ban bans an address, its f2bp2p action runs \\fBf2bp2p report\\fR \\fIip\\fR. The local",
    "f2bp2p node signs the report with its Ed25519 key and sends it, encrypted with ZeroMQ CURVE, to",
    "the friends listed in \\fIfriends.d\\fR. Friends relay it on, and trust decays on every hop. When",
    "an address's score reaches the node's threshold, the node writes a line to its bans log, which",
    "fail2ban's \\fBf2bp2p\\fR jail watches and bans.",
    ".SH COMMANDS",
    ...commands.flatMap((c) => [
      ".TP",
      `\\fB${escapeRoff(c.name).replace(/<(\w+)>/g, "\\fI$1\\fB")}\\fR`,
      `${inline(c.description)}. See \\fBf2bp2p\\-${escapeRoff(c.command)}\\fR(1).`,
    ]),
    ".SH OPTIONS",
    ...options(top.sections.get("Options")),
    ".SH EXIT STATUS",
    ...EXIT_STATUS.flatMap(({ code, meaning }) => [".TP", `${code}`, escapeRoff(meaning)]),
    ".SH JSON OUTPUT",
    "\\fBstatus\\fR, \\fBbans\\fR, \\fBcheck\\fR, \\fBreport\\fR, \\fBrevoke\\fR, \\fBkeygen\\fR and \\fBfriend\\-block\\fR take",
    "\\fB\\-o json\\fR (or \\fB\\-\\-json\\fR): one JSON object on standard output whose \\fBversion\\fR is 1,",
    "with the fields described in \\fI/usr/share/doc/f2bp2p/json.md\\fR and a JSON Schema per shape in",
    "\\fI/usr/share/doc/f2bp2p/schema/\\fR. Errors stay text on standard error; the exit status says which.",
    ".SH SHELL COMPLETION",
    "\\fBf2bp2p completion\\fR prints a bash completion script, e.g.",
    "\\fBf2bp2p completion > /etc/bash_completion.d/f2bp2p\\fR.",
    ".SH ENVIRONMENT",
    ".TP",
    ".B F2BP2P_CONFIG",
    "The config file when \\fB\\-\\-config\\fR is not given.",
    ".SH FILES",
    ...[
      ["/etc/f2bp2p/f2bp2p.yaml", "The node's settings; see f2bp2p.yaml(5)."],
      ["/etc/f2bp2p/keys/node.key", "The node's secret keys (mode 0600, owned by the service user)."],
      ["/etc/f2bp2p/keys/node.pub", "The friend block made at key creation."],
      ["/etc/f2bp2p/friends.d/", "One file per friend."],
      ["/var/lib/f2bp2p/", "The node's state."],
      ["/var/log/f2bp2p/bans.log", "Addresses that reached the threshold, read by fail2ban's f2bp2p jail."],
      ["/run/f2bp2p/control.sock", "The control socket: root and the group f2bp2p may use it."],
      ["/etc/fail2ban/action.d/f2bp2p.conf", "The fail2ban action that runs f2bp2p report."],
      ["/etc/fail2ban/jail.d/f2bp2p.conf", "The f2bp2p jail that bans from the bans log."],
    ].flatMap(([file, what]) => [".TP", `.I ${escapeRoff(file!)}`, escapeRoff(what!)]),
    ".SH SEE ALSO",
    `${commands.map((c) => `\\fBf2bp2p\\-${escapeRoff(c.command)}\\fR(1)`).join(", ")},`,
    "\\fBf2bp2p.yaml\\fR(5), \\fBfail2ban\\-client\\fR(1), \\fI/usr/share/doc/f2bp2p/\\fR",
    "",
  ].join("\n");
}

function commandPage(th: string, command: string, help: Help): string {
  const synopsis = help.usage.replace(/^f2bp2p \S+/, "").trim();
  return [
    th,
    ".SH NAME",
    `f2bp2p\\-${escapeRoff(command)} \\- ${escapeRoff(help.description.replace(/^\w/, (c) => c.toLowerCase()))}`,
    ".SH SYNOPSIS",
    `\\fBf2bp2p ${escapeRoff(command)}\\fR ${escapeRoff(synopsis).replace(/<(\w+)>/g, "\\fI$1\\fR")} [\\fIoptions\\fR]`.trimEnd(),
    ".SH DESCRIPTION",
    inline(help.description),
    ...(help.sections.has("Positionals")
      ? [".SH ARGUMENTS", ...options(help.sections.get("Positionals"))]
      : []),
    ".SH OPTIONS",
    ...options(help.sections.get("Options")),
    ...(help.examples.length > 0
      ? [".SH EXAMPLES", ".nf", ...help.examples.map((e) => escapeRoff(e)), ".fi"]
      : []),
    ".SH SEE ALSO",
    "\\fBf2bp2p\\fR(1), \\fBf2bp2p.yaml\\fR(5)",
    "",
  ].join("\n");
}

function configPage(th: string): string {
  const markdown = fs.readFileSync(path.join(ROOT, "docs/configuration.md"), "utf8");
  // The document's title becomes the NAME section; everything under it is the page.
  const body = markdown.replace(/^# .*\n/, "");
  return [
    th,
    ".SH NAME",
    "f2bp2p.yaml \\- configuration of an f2bp2p node and its friends",
    ".SH DESCRIPTION",
    markdownToRoff(body).trimEnd(),
    ".SH SEE ALSO",
    "\\fBf2bp2p\\fR(1)",
    "",
  ].join("\n");
}

/** Date for .TH: SOURCE_DATE_EPOCH (set by dpkg-buildpackage) for a reproducible build, else today. */
function pageDate(): string {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  return new Date(Number.isFinite(epoch) && epoch > 0 ? epoch * 1000 : Date.now()).toISOString().slice(0, 10);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (out === undefined) {
    process.stderr.write("usage: node dist/src/man/generate.js OUT_DIR\n");
    process.exit(EXIT_USAGE);
  }
  fs.mkdirSync(out, { recursive: true });
  for (const page of manPages(pageDate())) fs.writeFileSync(path.join(out, page.file), page.text);
}
