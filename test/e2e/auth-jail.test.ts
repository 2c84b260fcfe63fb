/**
 * End to end: outsiders knocking on a node's port are banned by the real fail2ban-server running the
 * shipped filter.d/f2bp2p-auth.conf and jail.d/f2bp2p-auth.conf, while a friend keeps delivering and
 * a friend's address presenting a stale key is never banned.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it, type TestContext } from "node:test";
import * as zmq from "zeromq";
import { repoFail2banFile, requireFail2ban, startFail2ban } from "../helpers/fail2ban.js";
import { waitFor } from "../helpers/wait.js";
import { DUMMY_ACTION, hasBanLine, reportWithCli, runNetwork, runNode, Scene, statusCount } from "./hosts.js";

const ATTACKER = "127.0.0.2";
const STALE_FRIEND = "127.0.0.3";

/** One connection attempt from `source` with a CURVE key `node` does not know; resolves once refused. */
async function knock(source: string, port: number, serverKey: string): Promise<void> {
  const key = zmq.curveKeyPair();
  const socket = new zmq.Push({
    curveServerKey: serverKey,
    curvePublicKey: key.publicKey,
    curveSecretKey: key.secretKey,
    linger: 0,
  });
  const refused = new Promise<void>((resolve) => socket.events.on("handshake:error:auth", () => resolve()));
  socket.connect(`tcp://${source}:0;127.0.0.1:${port}`);
  await refused;
  socket.close();
}

async function outsidersBanned(t: TestContext): Promise<void> {
  const scene = new Scene(t);
  await scene.run(t, async () => {
    await runNetwork(scene, {
      nodes: [
        { name: "a", logLevel: "info" },
        { name: "b", logLevel: "info" },
      ],
      links: [["a", "b"]],
    });
    const a = scene.node("a");
    const b = scene.node("b");
    const authLog = path.join(a.home, "auth.log");
    // A third friend of A's whose endpoint is on STALE_FRIEND: it comes back with a new key
    // that A's friends.d does not have yet. A restarts to load it.
    const c = fs
      .readFileSync(path.join(a.home, "friends.d", "b.yaml"), "utf8")
      .replace(/^name: .*$/m, "name: c")
      .replace(/^endpoint: .*$/m, `endpoint: tcp://${STALE_FRIEND}:9`)
      .replace(/^signing_key: .*$/m, `signing_key: ${Buffer.alloc(32, 7).toString("base64")}`)
      // A function, not a string: Z85 keys hold `$`, which a replacement string would interpret.
      .replace(/^curve_key: .*$/m, () => `curve_key: "${zmq.curveKeyPair().publicKey}"`);
    fs.writeFileSync(path.join(a.home, "friends.d", "c.yaml"), c);
    fs.writeFileSync(
      a.config,
      `${fs.readFileSync(a.config, "utf8").replace(/^auth_log: .*$/m, "")}auth_log: ${authLog}\n`,
    );
    await a.stop();
    const restarted = await runNode("a", a.config, scene.teardown);
    scene.nodes.set("a", restarted);
    assert.ok(fs.existsSync(authLog), "the node creates its auth log at start");
    assert.equal(fs.statSync(authLog).mode & 0o777, 0o640);

    const fail2ban = await startFail2ban({
      dir: path.join(a.home, "f2b"),
      jails: {
        DEFAULT: { banaction: "dummy", action: `%(banaction)s[target="${path.join(a.home, "dummy.bans")}"]` },
      },
      filters: { "f2bp2p-auth": repoFail2banFile("filter.d/f2bp2p-auth.conf") },
      actions: { dummy: DUMMY_ACTION },
      files: {
        "jail.d/f2bp2p-auth.conf": repoFail2banFile("jail.d/f2bp2p-auth.conf"),
        "jail.d/f2bp2p-auth.local": `[f2bp2p-auth]\nlogpath = ${authLog}\n`,
      },
    });
    scene.teardown.add(() => fail2ban.stop());
    scene.fail2bans.set("a", fail2ban);

    const port = Number(/listen: tcp:\/\/127\.0\.0\.1:(\d+)/.exec(fs.readFileSync(a.config, "utf8"))![1]);
    const serverKey = /curve_key: "(.*)"/.exec(
      fs.readFileSync(path.join(b.home, "friends.d", "a.yaml"), "utf8"),
    )![1]!;

    // The friend with the stale key tries five times: never banned, never counted.
    for (let i = 0; i < 5; i++) await knock(STALE_FRIEND, port, serverKey);
    // The outsider: each attempt its own line; the jail's maxretry is 3.
    for (let i = 0; i < 3; i++) await knock(ATTACKER, port, serverKey);
    await waitFor(
      async () => (await fail2ban.banned("f2bp2p-auth")).includes(ATTACKER),
      20_000,
      "the shipped f2bp2p-auth jail to ban the outsider",
    );
    const lines = fs.readFileSync(authLog, "utf8").trimEnd().split("\n");
    assert.equal(
      lines.filter((l) => / AUTH-FAIL 127\.0\.0\.2 reason=unknown-key key=\S{40}$/.test(l)).length,
      3,
    );
    assert.equal(
      lines.filter((l) => / FRIEND-ADDRESS 127\.0\.0\.3 friend=c reason=unknown-key /.test(l)).length,
      5,
    );
    assert.equal(lines.length, 8);
    const status = await fail2ban.status("f2bp2p-auth");
    assert.equal(statusCount(status, "Total failed"), 3);
    assert.deepEqual(await fail2ban.banned("f2bp2p-auth"), [ATTACKER]);

    // The friend keeps delivering, and its address never appears in the auth log.
    await reportWithCli(b, "203.0.113.45", "sshd");
    await waitFor(() => hasBanLine(restarted, "203.0.113.45"), 10_000, "B's report to reach A");
    assert.doesNotMatch(fs.readFileSync(authLog, "utf8"), / AUTH-FAIL 127\.0\.0\.1 /);
  });
}

describe("e2e: the shipped f2bp2p-auth jail", { timeout: 120_000 }, () => {
  it("bans an outsider with an unknown key after 3 attempts; a friend delivers; a stale-key friend is not banned", async (t) => {
    if (!(await requireFail2ban(t))) return;
    await outsidersBanned(t);
  });
});
