import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import * as zmq from "zeromq";
import { loadNodeConfig } from "../../src/config/load.js";
import { loadNode, writeNetworkFiles } from "../../src/demo/local-network.js";
import { loadIdentity } from "../../src/keys/identity.js";
import { signReport } from "../../src/protocol/report.js";
import { Ledger } from "../../src/state/ledger.js";
import { SqliteStore } from "../../src/state/sqlite-store.js";
import { OWN_TRUST, VIA_SELF } from "../../src/trust/rules.js";
import { waitFor } from "../helpers/wait.js";

/**
 * Catch-up answers check every stored report again before it leaves (disk damage must never
 * travel), now with the signatures checked ahead on the node's worker threads: a report whose
 * signature was damaged on disk is set aside and never sent; every other one arrives.
 */
describe("catch-up: a report damaged on disk never leaves the node", async () => {
  const files = await writeNetworkFiles({
    nodes: [{ name: "a" }, { name: "b" }],
    links: [["a", "b", 100, 100]],
  });
  after(() => fs.rmSync(files.dir, { recursive: true, force: true }));
  const aConfig = loadNodeConfig(files.configs.get("a")!);
  const a = loadIdentity(aConfig.keysDir);
  const COUNT = 150;
  const DAMAGED = 37;

  // A's store holds COUNT reports of its own, made while B was away; one signature is then damaged.
  fs.mkdirSync(aConfig.stateDir, { recursive: true });
  const store = new SqliteStore(aConfig.stateDir);
  const ledger = new Ledger(store, {
    lifetimeMs: aConfig.reportLifetimeSeconds * 1000,
    threshold: aConfig.threshold,
    trustOfVia: () => 0,
    maxReportsPerFriend: 1000,
  });
  const now = Date.now();
  const ips = Array.from({ length: COUNT }, (_, i) => `198.51.100.${i + 1}`);
  const signed = ips.map((ip) =>
    signReport({ ip, time: now, origin: a.signingPublicKey, jail: "sshd" }, a.signer),
  );
  store.transaction(() => {
    for (const s of signed) ledger.apply({ signed: s, trust: OWN_TRUST, via: VIA_SELF, path: [], at: now });
  });
  store.close();
  const db = new Database(path.join(aConfig.stateDir, "state.db"));
  const bad = Buffer.from(signed[DAMAGED]!.signature);
  bad[10]! ^= 0x40;
  db.prepare("UPDATE reports SET signature = ? WHERE id = ?").run(bad, signed[DAMAGED]!.id);
  db.close();

  const context = new zmq.Context();
  const nodeA = loadNode(files.configs.get("a")!, { context });
  const nodeB = loadNode(files.configs.get("b")!, { context });
  after(() => Promise.all([nodeA.stop(), nodeB.stop()]));

  it("B takes in every report but the damaged one, which A sets aside", { timeout: 60_000 }, async () => {
    await nodeB.start();
    await nodeA.start();
    const held = () => ips.filter((ip) => nodeB.ledger.score(ip) > 0).length;
    await waitFor(() => held() === COUNT - 1, 45_000, `B to hold ${COUNT - 1} reports of A`);
    await waitFor(() => nodeA.stats.setAside === 1, 10_000, "A to set the damaged report aside");
    assert.equal(nodeB.ledger.score(ips[DAMAGED]!), 0);
    assert.equal(nodeB.ledger.known(signed[DAMAGED]!.id, Date.now()), undefined);
    assert.equal(nodeA.ledger.store.counts().setAside, 1);
    assert.equal(nodeB.stats.rejected["bad-origin-signature"] ?? 0, 0);
  });
});
