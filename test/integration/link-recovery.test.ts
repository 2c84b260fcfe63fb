import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { LocalNetwork } from "../../src/demo/local-network.js";
import { statusOf } from "../../src/node/control-handler.js";
import type { F2bNode } from "../../src/node/node.js";
import type { LinkState } from "../../src/transport/link-state.js";

/** The pairing order on real nodes: A lists B before B lists A, and A must recover alone. */
describe("a friend link recovers after the friend refused our key", { timeout: 60_000 }, () => {
  let network: LocalNetwork | undefined;
  after(() => network?.stop());

  function linkOf(node: F2bNode, friend: string) {
    return node.friends.find((f) => f.config.name === friend)!.link;
  }

  function reaches(node: F2bNode, friend: string, state: LinkState): Promise<void> {
    const link = linkOf(node, friend);
    if (link.state === state) return Promise.resolve();
    return new Promise((resolve) => {
      const seen = (now: LinkState): void => {
        if (now !== state) return;
        link.off("state", seen);
        resolve();
      };
      link.on("state", seen);
    });
  }

  it("shows why in status, then reconnects without a restart and delivers", async () => {
    network = await LocalNetwork.start({ nodes: [{ name: "a" }, { name: "b" }], links: [["a", "b"]] });
    await network.connected();
    const aInB = path.join(network.files.dir, "b", "friends.d", "a.yaml");
    const block = fs.readFileSync(aInB);
    // B restarts without A in friends.d: A's key is refused by B's ZAP handler.
    await network.restart("b", async () => fs.rmSync(aInB));
    const a = network.node("a");
    await reaches(a, "b", "refused");
    const [seen] = statusOf(a).friends as { name: string; connected: boolean; link: string; why: string }[];
    assert.equal(seen?.connected, false);
    assert.equal(seen?.link, "refused");
    assert.match(seen?.why ?? "", /refused our key/);
    // B adds A and restarts; A is not touched.
    await network.restart("b", async () => fs.writeFileSync(aInB, block));
    await reaches(a, "b", "connected");
    a.reportLocal("203.0.113.77", "sshd");
    const b = network.node("b");
    await new Promise<void>((resolve) =>
      b.on("report:accepted", (r) => {
        if (r.ip === "203.0.113.77") resolve();
      }),
    );
    assert.equal(b.ledger.score("203.0.113.77"), 80);
    assert.equal((statusOf(a).friends as { link: string }[])[0]?.link, "connected");
  });
});
