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
  const code = await main(args);
  // stdout to a pipe is written asynchronously: let a long answer (bans --json) leave before exiting.
  await new Promise((resolve) => process.stdout.write("", resolve));
  // Exit explicitly: a command that failed half-way must not linger on an open socket.
  process.exit(code);
}
