import assert from "node:assert/strict";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import * as zmq from "zeromq";
import { loadNode, writeNetworkFiles } from "../../src/demo/local-network.js";
import { waitFor } from "../helpers/wait.js";

describe("a friend link's queue while the friend is away", { timeout: 60_000 }, async () => {
  const files = await writeNetworkFiles({ nodes: [{ name: "a" }, { name: "b" }], links: [["a", "b"]] });
  after(() => fs.rmSync(files.dir, { recursive: true, force: true }));
  const context = new zmq.Context();
  const a = loadNode(files.configs.get("a")!, { context, linkQueue: 5 });
  const b = loadNode(files.configs.get("b")!, { context });
  after(() => Promise.all([a.stop(), b.stop()]));

  it("drops the oldest beyond its bound, and the friend still gets every report by catch-up", async () => {
    await a.start();
    const ips = Array.from({ length: 20 }, (_, i) => `203.0.113.${i + 10}`);
    for (const ip of ips) assert.equal(a.reportLocal(ip, "sshd").status, "accepted");
    const link = a.friends[0]!.link;
    await waitFor(() => link.dropped === ips.length - 5, 5000, "the oldest reports dropped from the queue");
    assert.equal(link.queued, 5);
    await b.start();
    // b trusts a 80 %: a's own report counts 80 there.
    await waitFor(() => ips.every((ip) => b.ledger.score(ip) === 80), 20_000, "every report at b");
    // The 15 dropped came in catch-up pages (with the 5 the link still had, which came live too).
    assert.equal(b.stats.syncReports - b.stats.syncNoGain, ips.length - 5);
  });
});
