/**
 * Signed export and import with real nodes: b holds what its friend a reported; `f2bp2p export` of
 * b's store, imported into a fresh node d with the trust b gives a, gives d the same scores. A file
 * with one flipped byte is refused with nothing applied; imported reports do not travel on to d's
 * friend e without --relay.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { f2bp2p } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";
import { BIN, type RunningNode, reportWithCli, runNetwork, runNode, Scene } from "./hosts.js";

const ATTACKERS = ["203.0.113.51", "198.51.100.52", "2001:db8::53"];
const LATER = "203.0.113.59";

interface BansJson {
  readonly ips: readonly { ip: string; score: number; ban: string }[];
}

async function bansOf(node: RunningNode): Promise<{ ip: string; score: number; ban: string }[]> {
  const run = await f2bp2p(["-c", node.config, "bans", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  const json = JSON.parse(run.stdout) as BansJson;
  return json.ips.map(({ ip, score, ban }) => ({ ip, score, ban }));
}

/** `f2bp2p -c CONFIG export ARGS > file`, keeping the exact bytes; returns exit code and stderr. */
function exportTo(
  node: RunningNode,
  file: string,
  args: readonly string[] = [],
): { code: number; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, "-c", node.config, "export", ...args], {
    env: { ...process.env, F2BP2P_CONFIG: "" },
    timeout: 30_000,
  });
  fs.writeFileSync(file, run.stdout);
  return { code: run.status ?? -1, stderr: run.stderr.toString() };
}

describe("export and import", () => {
  it("a fresh node importing an export gets the same scores; a tampered file is refused", async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, {
        nodes: [{ name: "a" }, { name: "b" }, { name: "d" }, { name: "e" }],
        links: [
          ["a", "b", 80, 80],
          ["d", "e", 80, 80],
        ],
      });
      const [a, b, d, e] = ["a", "b", "d", "e"].map((n) => scene.node(n)) as RunningNode[];
      for (const ip of ATTACKERS) await reportWithCli(a!, ip, "sshd");
      // Held, banned, and the "written" mark committed (it rides with the next store commit).
      await waitFor(
        async () => {
          const bans = await bansOf(b!);
          return bans.length === ATTACKERS.length && bans.every((x) => x.ban === "written");
        },
        15_000,
        "b to hold and ban a's reports",
      );
      const expected = await bansOf(b!);
      assert.equal(expected.length, ATTACKERS.length);
      assert.ok(
        expected.every((x) => x.score === 80 && x.ban === "written"),
        JSON.stringify(expected),
      );

      const file = path.join(scene.root, "b.f2bx");
      const exported = exportTo(b!, file);
      assert.equal(exported.code, 0, exported.stderr);
      assert.match(exported.stderr, /exported 3 report\(s\)/);

      // One flipped byte inside the last report's signature: refused, exit 2, nothing applied.
      const tampered = path.join(scene.root, "tampered.f2bx");
      const bytes = fs.readFileSync(file);
      bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0x04;
      fs.writeFileSync(tampered, bytes);
      const refused = await f2bp2p(["-c", d!.config, "import", tampered, "--trust", "80"]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(
        refused.stderr,
        /record 3 \(.+\): the origin's signature does not verify .*nothing was imported/,
      );
      assert.deepEqual(await bansOf(d!), []);
      assert.equal((await d!.status()).reports, 0);

      const imported = await f2bp2p(["-c", d!.config, "import", file, "--trust", "80"]);
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stdout, /3 report\(s\) verified; 3 applied, 0 already held/);
      await waitFor(
        async () => (await bansOf(d!)).every((x) => x.ban === "written"),
        15_000,
        "d's bans marked written",
      );
      assert.deepEqual(await bansOf(d!), expected);
      // Importing again changes nothing.
      const again = await f2bp2p(["-c", d!.config, "import", file, "--trust", "80"]);
      assert.match(again.stdout, /0 applied, 3 already held/);

      // Without --relay nothing went on to e: a later report of d's own reaches e, the imported ones not.
      await reportWithCli(d!, LATER, "sshd");
      await waitFor(
        async () => (await bansOf(e!)).some((x) => x.ip === LATER),
        15_000,
        "e to get d's own report",
      );
      assert.deepEqual(
        (await bansOf(e!)).map((x) => x.ip),
        [LATER],
      );
      // Nor through catch-up sync: e restarted asks d for everything it lacks, and gets no import.
      await e!.stop();
      const eAgain = await runNode("e", e!.config, scene.teardown);
      scene.nodes.set("e", eAgain);
      await waitFor(
        async () => {
          const friends = (await eAgain.status()).friends as unknown as { sync: { state: string } }[];
          return friends.every((f) => f.sync.state === "caught-up");
        },
        30_000,
        "e to catch up with d",
      );
      assert.deepEqual(
        (await bansOf(eAgain)).map((x) => x.ip),
        [LATER],
      );
      // The import shows as a pseudo-friend in d's friend worth.
      const status = (await d!.status()) as unknown as {
        worth: { friends: { name: string; brought: number }[] };
      };
      assert.deepEqual(
        status.worth.friends.map((f) => [f.name, f.brought]),
        [
          ["e", 0],
          ["import (trust 80)", 3],
        ],
      );
    });
  });

  it("with --relay the imported reports travel on to friends, one hop further", async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, {
        nodes: [{ name: "a" }, { name: "d" }, { name: "e" }],
        links: [["d", "e", 80, 80]],
      });
      const [a, d, e] = ["a", "d", "e"].map((n) => scene.node(n)) as RunningNode[];
      for (const ip of ATTACKERS) await reportWithCli(a!, ip, "sshd");
      const file = path.join(scene.root, "a.f2bx");
      assert.equal(exportTo(a!, file).code, 0);
      const imported = await f2bp2p(["-c", d!.config, "import", file, "--trust", "90", "--relay"]);
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stdout, /3 applied/);
      // e trusts d 80: floor(90 × 80 / 100) = 72, below e's threshold of 80.
      await waitFor(
        async () => (await bansOf(e!)).length === ATTACKERS.length,
        15_000,
        "e to get the relayed reports",
      );
      assert.deepEqual(
        (await bansOf(e!)).map((x) => [x.score, x.ban]),
        ATTACKERS.map(() => [72, "no"]),
      );
      assert.deepEqual(
        (await bansOf(d!)).map((x) => [x.score, x.ban]),
        ATTACKERS.map(() => [90, "written"]),
      );
    });
  });

  it("says so when the node is not running, and refuses what is not an export", async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, { nodes: [{ name: "a" }], links: [] });
      const a = scene.node("a");
      const junk = path.join(scene.root, "junk");
      fs.writeFileSync(junk, "not an export\n");
      const bad = await f2bp2p(["-c", a.config, "import", junk, "--trust", "50"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /not an f2bp2p export file .*nothing was imported/);
      const badTrust = await f2bp2p(["-c", a.config, "import", junk, "--trust", "101"]);
      assert.equal(badTrust.code, 2);
      assert.match(badTrust.stderr, /--trust must be a whole number from 0 to 100/);
      const empty = path.join(scene.root, "empty.f2bx");
      assert.equal(exportTo(a, empty).code, 0);
      assert.equal(fs.readFileSync(empty).toString("hex"), "463242503250455801000004" + "00000000");
      await a.stop();
      const down = await f2bp2p(["-c", a.config, "import", empty, "--trust", "50"]);
      assert.equal(down.code, 1);
      assert.match(down.stderr, /cannot reach the f2bp2p node .*nothing was imported/);
      // export reads the store: it works with the node stopped too.
      const exported = exportTo(a, empty, ["--since", "1h"]);
      assert.equal(exported.code, 0, exported.stderr);
      assert.match(exported.stderr, /exported 0 report\(s\)/);
      const badSince = await f2bp2p(["-c", a.config, "export", "--since", "soon"]);
      assert.equal(badSince.code, 2);
      assert.match(badSince.stderr, /--since 'soon' is not a duration/);
    });
  });

  it("a revocation in the file is verified and applied: the revoked report does not count at the importer", async (t) => {
    const scene = new Scene(t);
    await scene.run(t, async () => {
      await runNetwork(scene, {
        nodes: [{ name: "a" }, { name: "b" }, { name: "d" }],
        links: [["a", "b", 80, 80]],
      });
      const [a, b, d] = ["a", "b", "d"].map((n) => scene.node(n)) as RunningNode[];
      const [kept, revoked] = ["203.0.113.71", "2001:db8::72"] as const;
      await reportWithCli(a!, kept, "sshd");
      await reportWithCli(a!, revoked, "sshd");
      const taken = await f2bp2p(["-c", a!.config, "revoke", revoked, "--reason", "mistake"]);
      assert.equal(taken.code, 0, taken.stderr);
      // b holds both reports and the revocation: only the kept one counts there.
      await waitFor(
        async () => {
          const bans = await bansOf(b!);
          return bans.length === 1 && bans[0]!.ip === kept && bans[0]!.ban === "written";
        },
        15_000,
        "b to hold a's report and revocation",
      );
      const file = path.join(scene.root, "with-revocation.f2bx");
      const exported = exportTo(b!, file);
      assert.equal(exported.code, 0, exported.stderr);
      // Two reports and the revocation, the revocation after the report it revokes.
      assert.match(exported.stderr, /exported 3 report\(s\)/);

      const imported = await f2bp2p(["-c", d!.config, "import", file, "--trust", "80"]);
      assert.equal(imported.code, 0, imported.stderr);
      await waitFor(
        async () => (await bansOf(d!)).every((x) => x.ban === "written"),
        15_000,
        "d's bans marked written",
      );
      assert.deepEqual(await bansOf(d!), [{ ip: kept, score: 80, ban: "written" }]);
      const run = await f2bp2p(["-c", d!.config, "bans", "--json"]);
      const revokedHere = (JSON.parse(run.stdout) as { revoked: { ip: string; reason: string }[] }).revoked;
      assert.deepEqual(
        revokedHere.map((r) => [r.ip, r.reason]),
        [[revoked, "mistake"]],
      );

      // A revocation whose signature was altered makes the whole file refused.
      const data = fs.readFileSync(file);
      const at = data.lastIndexOf(Buffer.from("mistake")) + 10;
      data[at]! ^= 1;
      const tampered = path.join(scene.root, "tampered-revocation.f2bx");
      fs.writeFileSync(tampered, data);
      const refused = await f2bp2p(["-c", d!.config, "import", tampered, "--trust", "80"]);
      assert.equal(refused.code, 2, refused.stdout);
    });
  });
});
