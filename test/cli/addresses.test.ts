import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { writeNetworkFiles } from "../../src/demo/local-network.js";
import { f2bp2p, type RunningCli, runNode } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";

const dirs: string[] = [];
const nodes: RunningCli[] = [];
after(() => {
  for (const n of nodes) n.child.kill("SIGKILL");
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function bansOf(dir: string, name: string): string {
  const file = path.join(dir, name, "bans.log");
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
}

describe("cli: one address grammar from check to the bans log", () => {
  it("ignore: ::ffff:192.0.2.0/120 passes check, and run enforces it as 192.0.2.0/24", async () => {
    const files = await writeNetworkFiles({
      nodes: [{ name: "solo", ignore: ["::ffff:192.0.2.0/120"] }],
      links: [],
    });
    dirs.push(files.dir);
    const config = files.configs.get("solo")!;
    const check = await f2bp2p(["-c", config, "check"]);
    assert.equal(check.code, 0, check.stderr);
    const node = await runNode(config);
    nodes.push(node);
    const ignored = await f2bp2p(["-c", config, "report", "192.0.2.200"]);
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.equal(ignored.stdout, "192.0.2.200: not reported: on the ignore list (192.0.2.0/24)\n");
    const other = await f2bp2p(["-c", config, "report", "203.0.113.5"]);
    assert.equal(other.stdout, "203.0.113.5: accepted, score 100, banned here\n");
    node.child.kill("SIGTERM");
    assert.equal(await node.exited, 0, node.stderr());
  });

  it("ignore: ::ffff:192.0.2.0/24 fails check and run alike, naming the key", async () => {
    const files = await writeNetworkFiles({
      nodes: [{ name: "solo", ignore: ["::ffff:192.0.2.0/24"] }],
      links: [],
    });
    dirs.push(files.dir);
    const config = files.configs.get("solo")!;
    for (const command of ["check", "run"]) {
      const result = await f2bp2p(["-c", config, command]);
      assert.equal(result.code, 2, command);
      assert.match(
        result.stderr,
        /ignore\[0\]: expected .*IPv4-mapped.* got "::ffff:192\.0\.2\.0\/24"/,
        command,
      );
    }
  });

  it("report: special-purpose addresses are not reported; documentation ranges and hex IPv4-compatible forms are", async () => {
    const files = await writeNetworkFiles({ nodes: [{ name: "solo" }], links: [] });
    dirs.push(files.dir);
    const config = files.configs.get("solo")!;
    const node = await runNode(config);
    nodes.push(node);
    const special: [string, string][] = [
      ["0.0.0.0", "this network"],
      ["::", "unspecified address"],
      ["10.1.2.3", "private use"],
      ["100.64.0.9", "shared address space"],
      ["fe80::1", "link local"],
      ["fd00::1", "unique local"],
      ["ff02::1", "multicast"],
      ["255.255.255.255", "broadcast"],
    ];
    for (const [ip, name] of special) {
      const result = await f2bp2p(["-c", config, "report", ip]);
      assert.equal(result.code, 0, ip);
      assert.match(
        result.stdout,
        new RegExp(`^${ip.replace(/\./g, "\\.")}: not reported: special-purpose address: .*${name}`),
        ip,
      );
    }
    assert.equal(bansOf(files.dir, "solo"), "");
    assert.equal((await f2bp2p(["-c", config, "report", "::c000:23d"])).code, 0);
    assert.equal((await f2bp2p(["-c", config, "report", "::203.0.113.8"])).code, 0);
    assert.equal((await f2bp2p(["-c", config, "report", "198.51.100.4"])).code, 0);
    const lines = bansOf(files.dir, "solo")
      .trim()
      .split("\n")
      .map((l) => l.split(" ")[2]);
    assert.deepEqual(lines, ["::c000:23d", "::cb00:7108", "198.51.100.4"]);
    node.child.kill("SIGTERM");
    assert.equal(await node.exited, 0, node.stderr());
  });

  it("report --jail with a 34-character virtual-host jail exits 0 and the ban reaches the friend", async () => {
    const files = await writeNetworkFiles({
      nodes: [{ name: "a" }, { name: "b", logLevel: "debug" }],
      links: [["a", "b", 100, 100]],
    });
    dirs.push(files.dir);
    const a = await runNode(files.configs.get("a")!);
    const b = await runNode(files.configs.get("b")!);
    nodes.push(a, b);
    const jail = "shop1.customer-example-site.com-cc";
    const ack = await f2bp2p(["-c", files.configs.get("a")!, "report", "203.0.113.60", "--jail", jail]);
    assert.equal(ack.code, 0, ack.stderr);
    assert.equal(ack.stdout, "203.0.113.60: accepted, score 100, banned here\n");
    await waitFor(() => bansOf(files.dir, "b").includes(" BAN 203.0.113.60 "), 10_000, "ban at b");
    assert.match(bansOf(files.dir, "b"), / BAN 203\.0\.113\.60 score=100 origin=[0-9a-f]{12} hops=1\n$/);
    for (const n of [a, b]) n.child.kill("SIGTERM");
    assert.equal(await a.exited, 0);
    assert.equal(await b.exited, 0);
  });
});
