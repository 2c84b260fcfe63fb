import assert from "node:assert/strict";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import { LocalNetwork, writeNetworkFiles } from "../../src/demo/local-network.js";

/** Two real nodes that listen and dial each other on ::1 only. */
describe("IPv6 endpoints", { timeout: 60_000 }, () => {
  let network: LocalNetwork | undefined;
  after(() => network?.stop());

  it("listen on tcp://[::1]:PORT and a friend at tcp://[::1]:PORT connect and deliver", async () => {
    const spec = { nodes: [{ name: "a" }, { name: "b" }], links: [["a", "b"] as const] };
    const files = await writeNetworkFiles(spec);
    // The same files as an admin would write for IPv6: every tcp://127.0.0.1: becomes tcp://[::1]:.
    for (const name of ["a", "b"]) {
      const config = files.configs.get(name)!;
      const home = config.slice(0, config.lastIndexOf("/"));
      for (const file of [config, `${home}/friends.d/${name === "a" ? "b" : "a"}.yaml`]) {
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replaceAll("tcp://127.0.0.1:", "tcp://[::1]:"));
      }
    }
    network = await LocalNetwork.startFrom(files);
    const a = network.node("a");
    const b = network.node("b");
    assert.match(a.endpoint, /^tcp:\/\/\[::1\]:\d+$/);
    assert.match(b.friends[0]!.config.endpoint, /^tcp:\/\/\[::1\]:/);
    await network.connected();
    a.reportLocal("2001:db8::66", "sshd");
    await new Promise<void>((resolve) => b.on("ban", (ban) => ban.ip === "2001:db8::66" && resolve()));
    assert.equal(b.ledger.score("2001:db8::66"), 80);
  });
});
