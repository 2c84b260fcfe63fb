/**
 * `-o json` / `--json` of every command that prints state, run as the real CLI against real nodes,
 * each document checked against its schema in docs/schema/ by a strict JSON Schema validator.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import YAML from "yaml";
import { EXIT_NOT_WRITTEN, EXIT_OK, EXIT_STATUS, EXIT_USAGE } from "../../src/cli/exit-codes.js";
import { writeNetworkFiles } from "../../src/demo/local-network.js";
import { REJECT_SEVERITY } from "../../src/protocol/rejections.js";
import { f2bp2p } from "../helpers/cli.js";
import { assertShape, SHAPES, schemaOf } from "../helpers/json-schema.js";
import { waitFor } from "../helpers/wait.js";
import { runNetwork, runNode, Scene } from "./hosts.js";

const ATTACKER = "203.0.113.31";

describe("-o json: documented, versioned shapes", () => {
  it("every schema compiles in strict mode and names version 1", () => {
    for (const shape of SHAPES) {
      const text = JSON.stringify(schemaOf(shape));
      assert.match(text, /"version":\{"const":1/, shape);
    }
    // The reject codes the schemas allow are exactly the node's (protocol/rejections.ts).
    const status = schemaOf("status") as {
      properties: { stats: { properties: { rejected: { propertyNames: { enum: string[] } } } } };
    };
    assert.deepEqual(
      status.properties.stats.properties.rejected.propertyNames.enum.sort(),
      Object.keys(REJECT_SEVERITY).sort(),
    );
  });

  it("docs/json.md lists every exit status of cli/exit-codes.ts", () => {
    const doc = fs.readFileSync(new URL("../../../docs/json.md", import.meta.url), "utf8");
    for (const { code } of EXIT_STATUS)
      assert.match(doc, new RegExp(`^\\| ${code} \\| \\S`, "m"), `exit ${code}`);
  });

  it("status, status --ip, bans, report, check on a running pair", async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, { nodes: [{ name: "a" }, { name: "b" }], links: [["a", "b", 80, 80]] });
      const a = scene.node("a");
      const b = scene.node("b");

      const reported = await f2bp2p(["-c", a.config, "report", ATTACKER, "--jail", "sshd", "-o", "json"]);
      assert.equal(reported.code, EXIT_OK, reported.stderr);
      assert.deepEqual(assertShape("report", reported.stdout), {
        version: 1,
        ip: ATTACKER,
        result: "accepted",
        score: 100,
        banned: true,
      });
      const again = await f2bp2p(["-c", a.config, "report", ATTACKER, "--json"]);
      assert.equal(assertShape("report", again.stdout).result, "duplicate");
      const ignored = await f2bp2p(["-c", a.config, "report", "127.0.0.1", "--json"]);
      assert.equal(ignored.code, EXIT_OK, ignored.stderr);
      const ignoredDoc = assertShape("report", ignored.stdout);
      assert.equal(ignoredDoc.result, "ignored");
      assert.match(String(ignoredDoc.reason), /loopback/);
      // The human form is unchanged.
      const human = await f2bp2p(["-c", a.config, "report", ATTACKER]);
      assert.match(human.stdout, /^203\.0\.113\.31: duplicate, score 100, banned here\n$/);

      await waitBanned(b.config, ATTACKER);
      for (const args of [["-o", "json"], ["--json"]]) {
        const status = await f2bp2p(["-c", b.config, "status", ...args]);
        assert.equal(status.code, EXIT_OK, status.stderr);
        const doc = assertShape("status", status.stdout);
        assert.equal(doc.name, "b");
        assert.equal((doc.stats as { bans: number }).bans, 1);
        const friends = doc.friends as { name: string; connected: boolean; reportsHeld: number }[];
        assert.deepEqual(
          friends.map((f) => [f.name, f.connected, f.reportsHeld]),
          [["a", true, 1]],
        );
      }
      const humanStatus = await f2bp2p(["-c", b.config, "status"]);
      assert.equal(humanStatus.code, EXIT_OK, humanStatus.stderr);
      assert.match(humanStatus.stdout, /^node b \([0-9a-f]{12}\) listening on tcp:\/\/\S+, threshold 80\n/);
      assert.match(
        humanStatus.stdout,
        /\nFRIEND +LINK +SYNC +TRUST .*\na +connected +(never|syncing|caught-up) +80 /,
      );

      const score = await f2bp2p(["-c", b.config, "status", "--ip", ATTACKER, "-o", "json"]);
      const scoreDoc = assertShape("score", score.stdout);
      assert.equal(scoreDoc.score, 80);
      assert.equal(scoreDoc.banned, true);
      assert.deepEqual(
        (scoreDoc.origins as { via: string; hops: number }[]).map((o) => [o.via, o.hops]),
        [["a", 1]],
      );

      for (const args of [["-o", "json"], ["--json"]]) {
        const bans = await f2bp2p(["-c", b.config, "bans", ...args]);
        assert.equal(bans.code, EXIT_OK, bans.stderr);
        const doc = assertShape("bans", bans.stdout);
        assert.deepEqual(
          (doc.ips as { ip: string; ban: string }[]).map((e) => [e.ip, e.ban]),
          [[ATTACKER, "written"]],
        );
      }
    });
  });

  it("report: queued in the spool when the node is not running; exit 4 shape with banPending", async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const files = await writeNetworkFiles({ nodes: [{ name: "solo" }], links: [] }, scene.root);
      const config = files.configs.get("solo")!;
      const queued = await f2bp2p(["-c", config, "report", ATTACKER, "-o", "json"]);
      assert.equal(queued.code, EXIT_OK, queued.stderr);
      const doc = assertShape("report", queued.stdout);
      assert.equal(doc.result, "queued");
      assert.ok(fs.existsSync(String(doc.spoolFile)), String(doc.spoolFile));
      assert.match(String(doc.why), /cannot reach the f2bp2p node/);

      // The bans log's folder is a file: the node stores and shares, but cannot write the line.
      const home = path.dirname(config);
      setKeys(config, { bans_log: "blocked/bans.log" });
      fs.writeFileSync(path.join(home, "blocked"), "");
      scene.nodes.set("solo", await runNode("solo", config, scene.teardown));
      const pending = await f2bp2p(["-c", config, "report", "198.51.100.32", "--json"]);
      assert.equal(pending.code, EXIT_NOT_WRITTEN, pending.stderr);
      const pendingDoc = assertShape("report", pending.stdout);
      assert.equal(pendingDoc.result, "accepted");
      assert.equal(pendingDoc.banned, false);
      assert.match(String(pendingDoc.banPending), /bans log/);
    });
  });

  it("check, keygen and friend-block", async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      const files = await writeNetworkFiles(
        { nodes: [{ name: "c" }, { name: "d" }], links: [["c", "d", 70, 80]] },
        scene.root,
      );
      const config = files.configs.get("c")!;
      const check = await f2bp2p(["-c", config, "check", "-o", "json"]);
      assert.equal(check.code, EXIT_OK, check.stderr);
      const doc = assertShape("check", check.stdout);
      assert.equal(doc.ok, true);
      assert.equal(doc.config, config);
      assert.deepEqual(doc.friends, [
        { name: "d", endpoint: `tcp://127.0.0.1:${files.ports.get("d")}`, trust: 70 },
      ]);
      const human = await f2bp2p(["-c", config, "check"]);
      assert.match(human.stdout, new RegExp(`^${config.replaceAll(".", "\\.")}: ok\\n`));

      setKeys(config, { threshold: 1000, metrics_listen: "192.0.2.10:7712" });
      const broken = await f2bp2p(["-c", config, "check", "--json"]);
      assert.equal(broken.code, EXIT_USAGE);
      const failed = assertShape("check", broken.stdout);
      assert.equal(failed.ok, false);
      assert.deepEqual(
        (failed.problems as { key: string; code: string }[]).map((p) => [p.key, p.code]),
        [
          ["threshold", "out-of-range"],
          ["metrics_listen", "invalid-value"],
        ],
      );

      const keys = path.join(scene.root, "new-keys");
      const keygen = await f2bp2p([
        "keygen",
        "--name",
        "echo",
        "--endpoint",
        "tcp://192.0.2.20:7711",
        "--keys-dir",
        keys,
        "-o",
        "json",
      ]);
      assert.equal(keygen.code, EXIT_OK, keygen.stderr);
      const made = assertShape("keygen", keygen.stdout);
      const friend = made.friend as { block: string; name: string; id: string; trust: number };
      assert.equal(friend.name, "echo");
      assert.equal(friend.id, made.id);
      assert.equal(friend.block, fs.readFileSync(path.join(keys, "node.pub"), "utf8"));
      assert.deepEqual(made.files, [path.join(keys, "node.key"), path.join(keys, "node.pub")]);

      const block = await f2bp2p(["-c", files.configs.get("d")!, "friend-block", "--trust", "60", "--json"]);
      assert.equal(block.code, EXIT_OK, block.stderr);
      const blockDoc = assertShape("friend-block", block.stdout);
      const info = blockDoc.friend as { name: string; trust: number; block: string; signingKey: string };
      assert.equal(info.name, "d");
      assert.equal(info.trust, 60);
      assert.ok(info.block.includes(`signing_key: ${info.signingKey}\n`));
      const plain = await f2bp2p(["-c", files.configs.get("d")!, "friend-block", "--trust", "60"]);
      assert.equal(plain.stdout, info.block);
    });
  });

  it("an unknown format is a usage error", async () => {
    const run = await f2bp2p(["status", "-o", "yaml"]);
    assert.equal(run.code, EXIT_USAGE);
    assert.match(run.stderr, /Invalid values:[\s\S]*output[\s\S]*"human", "json"/);
  });
});

/** Sets keys of a config file as an admin editing it would. */
function setKeys(config: string, keys: Record<string, unknown>): void {
  fs.writeFileSync(config, YAML.stringify({ ...YAML.parse(fs.readFileSync(config, "utf8")), ...keys }));
}

async function waitBanned(config: string, ip: string): Promise<void> {
  await waitFor(
    async () => {
      const run = await f2bp2p(["-c", config, "status", "--ip", ip, "--json"]);
      return run.code === 0 && JSON.parse(run.stdout).banned === true;
    },
    15_000,
    `${ip} banned`,
  );
}
