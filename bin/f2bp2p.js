#!/usr/bin/env node
// `f2bp2p report` is what fail2ban runs on every ban, so it takes a lean path that loads neither
// yargs nor the node; every other command (and any report call it cannot parse) gets the full CLI.
import { leanReportArgs } from "../dist/src/cli/report-args.js";

const args = process.argv.slice(2);
const lean = leanReportArgs(args);
if (lean !== null) {
  const { runReport } = await import("../dist/src/cli/report-fast.js");
  process.exitCode = await runReport(lean);
} else {
  const { main } = await import("../dist/src/cli/main.js");
  // Exit explicitly: a command that failed half-way must not linger on an open socket. But only once
  // stdout and stderr are flushed: a pipe takes 64 KiB at once, and `bans --json` prints more.
  const code = await main(args);
  process.exitCode = code;
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}
