import assert from "node:assert/strict";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import * as zmq from "zeromq";
import { loadNode, writeNetworkFiles } from "../../src/demo/local-network.js";
import { waitFor } from "../helpers/wait.js";

describe("a friend that comes back is answered at once", { timeout: 60_000 }, async () => {
  const files = await writeNetworkFiles({ nodes: [{ name: "a" }, { name: "c" }], links: [["a", "c"]] });
  after(() => fs.rmSync(files.dir, { recursive: true, force: true }));
  const context = new zmq.Context();
  // a dials c again only a minute after each failed attempt: longer than this test may take.
  const a = loadNode(files.configs.get("a")!, { context, linkReconnectMs: 60_000 });
  const c = loadNode(files.configs.get("c")!, { context });
  after(() => Promise.all([a.stop(), c.stop()]));

  it("gets what it missed as soon as it asks, not when our link's reconnect backoff ends", async () => {
    await a.start();
    const link = a.friends[0]!.link;
    await waitFor(() => link.state === "unreachable", 10_000, "a's link to find c down");
    assert.equal(a.reportLocal("203.0.113.40", "sshd").status, "accepted");
    await c.start();
    // c trusts a 80 %: a's own report counts 80 there.
    await waitFor(() => c.ledger.score("203.0.113.40") === 80, 20_000, "a's report at c");
    assert.equal(link.state, "connected");
  });
});
