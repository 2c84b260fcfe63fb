/**
 * No measurement: other tools' published or previously measured figures, printed next to what this run
 * measured, so the numbers have something to stand against.
 */
import { type BenchContext, type BenchResult, fmt, newResult } from "./common.js";

export async function anchors(ctx: BenchContext): Promise<BenchResult> {
  const result = newResult("anchors", "other tools, for comparison (not measured here)");
  const hops = ctx.results.get("hops")?.data as
    | { perHopMedianMs?: number; endToEndMedianMs?: number; ackMedianMs?: number }
    | undefined;
  const network = ctx.results.get("network")?.data as
    | { coverageMs?: { median: number }; nodes?: number }
    | undefined;
  const notRun = "not run (use --only hops,network,anchors)";
  const ms = (value: number | undefined, digits = 2): string =>
    value === undefined ? notRun : `${fmt(value, digits)} ms`;
  result.tables.push({
    title: "from a ban on one server to the others",
    columns: ["system", "latency", "source"],
    rows: [
      [
        "fail2ban-zmq-tools: `Ban` log line → subscriber",
        "~400 ms median",
        "its log reader sleeps 1 s at end of file",
      ],
      [
        "fail2ban-zmq-tools: real fail2ban → subscriber",
        "1,080 ms median",
        "measured with fail2ban in front",
      ],
      ["CrowdSec community blocklist", "pulled every 2 h", "7,200,000 ms between pulls"],
      ["f2bp2p: one hop (this run)", ms(hops?.perHopMedianMs, 3), "hops benchmark, median per hop"],
      [
        "f2bp2p: report → ban line 9 hops away (this run)",
        ms(hops?.endToEndMedianMs),
        "hops benchmark, node 10",
      ],
      [
        `f2bp2p: full coverage of ${network?.nodes ?? "the"} nodes (this run)`,
        ms(network?.coverageMs?.median, 1),
        "network benchmark, median",
      ],
    ],
    note: "f2bp2p's figures start at `f2bp2p report` (fail2ban's action), not at fail2ban's own detection",
  });
  const perHop = hops?.perHopMedianMs;
  if (perHop !== undefined) {
    result.data.fail2banZmqToolsOverPerHop = 400 / perHop;
    result.tables.push({
      title: "ratios",
      columns: ["", "×"],
      rows: [
        ["fail2ban-zmq-tools median ÷ f2bp2p per-hop median", fmt(400 / perHop, 0)],
        [
          "fail2ban-zmq-tools median ÷ f2bp2p 9-hop median",
          fmt(400 / (hops?.endToEndMedianMs ?? Number.NaN), 0),
        ],
      ],
    });
  }
  Object.assign(result.data, {
    fail2banZmqToolsMedianMs: 400,
    fail2banZmqToolsRealFail2banMedianMs: 1080,
    crowdsecBlocklistPullMs: 2 * 3600 * 1000,
    f2bp2pPerHopMedianMs: perHop ?? null,
    f2bp2pEndToEndMedianMs: hops?.endToEndMedianMs ?? null,
  });
  return result;
}
