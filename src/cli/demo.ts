import { LocalNetwork, type NetworkSpec } from "../demo/local-network.js";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "./errors.js";

const NAMES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];
const ATTACKER = "203.0.113.7";

/**
 * A line alpha—bravo—charlie—delta, closed into a loop delta—echo—foxtrot—delta, all trusting each
 * other 80 with threshold 80: the numbers of fail2ban-p2p's design, 100, 80, 64, 51 along the line.
 */
export function demoSpec(count: number): NetworkSpec {
  const names = NAMES.slice(0, count);
  const links: [string, string][] = [];
  for (let i = 1; i < Math.min(count, 4); i++) links.push([names[i - 1]!, names[i]!]);
  if (count >= 5) links.push(["delta", "echo"]);
  if (count >= 6) links.push(["echo", "foxtrot"], ["foxtrot", "delta"]);
  return { nodes: names.map((name) => ({ name })), links };
}

export async function demo(options: { nodes: number; out: (text: string) => void }): Promise<number> {
  if (!Number.isInteger(options.nodes) || options.nodes < 4 || options.nodes > 6) {
    throw new UsageError("--nodes must be 4, 5 or 6");
  }
  const spec = demoSpec(options.nodes);
  const out = options.out;
  out(`starting ${spec.nodes.length} nodes on 127.0.0.1 (fresh keys in a temp dir)\n`);
  for (const [a, b] of spec.links) out(`  ${a} <-> ${b}  (trust 80 each way)\n`);
  const network = await LocalNetwork.start(spec);
  try {
    await network.connected();
    const reachedAt = new Map<string, number>();
    for (const [name, node] of network.nodes) {
      node.on("report:accepted", () => reachedAt.set(name, performance.now()));
    }
    const started = performance.now();
    const result = network.node("alpha").reportLocal(ATTACKER, "sshd");
    out(`\nalpha reports ${ATTACKER} (jail sshd): ${result.status}\n`);
    await network.settled();
    out("\nnode      trust  threshold  banned  hops  reached after  messages in\n");
    for (const [name, node] of network.nodes) {
      const score = node.ledger.score(ATTACKER);
      const banned = network.bansLog(name).includes(` BAN ${ATTACKER} `);
      const hops = node.ledger.contributions(ATTACKER)[0]?.hops ?? "-";
      const at = reachedAt.get(name);
      const after = at === undefined ? "-" : `${(at - started).toFixed(1)} ms`;
      out(
        `${name.padEnd(9)} ${String(score).padStart(5)}  ${String(node.config.threshold).padStart(9)}  ${(banned ? "yes" : "no").padStart(6)}  ${String(hops).padStart(4)}  ${after.padStart(13)}  ${String(node.stats.messages).padStart(11)}\n`,
      );
    }
    out(`\nbans logs and keys were in ${network.files.dir} (removed now)\n`);
    return EXIT_OK;
  } catch (err: unknown) {
    out(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_FAILURE;
  } finally {
    await network.stop();
  }
}
