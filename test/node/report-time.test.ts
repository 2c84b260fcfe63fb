/**
 * reportLocal's optional time (what the spool intake passes: when `report` queued the ban): kept in
 * the signed report, refused with a reason when in the future or older than the report lifetime.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { LocalNetwork } from "../../src/demo/local-network.js";

const networks: LocalNetwork[] = [];
after(async () => {
  await Promise.all(networks.map((n) => n.stop()));
});

describe("F2bNode.reportLocal with a time", () => {
  it("keeps a past time within the lifetime, refuses the future and the expired, defaults to now", async () => {
    const net = await LocalNetwork.start({ nodes: [{ name: "solo" }], links: [] });
    networks.push(net);
    const node = net.node("solo");
    const lifetimeMs = node.config.reportLifetimeSeconds * 1000;
    const selfHex = node.identity.signingPublicKey.toString("hex");
    const expiry = (ip: string): number | undefined =>
      node.ledger.contributions(ip).find((c) => c.origin === selfHex)?.expiresAt;

    const spooledAt = Date.now() - 3_600_000;
    const past = node.reportLocal("203.0.113.21", "sshd", spooledAt);
    assert.equal(past.status, "accepted");
    assert.equal(expiry("203.0.113.21"), spooledAt + lifetimeMs, "the report carries the spooled time");

    const future = node.reportLocal("203.0.113.22", "sshd", Date.now() + 3_600_000);
    assert.equal(future.status, "invalid-time");
    assert.match(future.status === "invalid-time" ? future.reason : "", /is in the future$/);
    const expired = node.reportLocal("203.0.113.23", "sshd", Date.now() - lifetimeMs - 1000);
    assert.equal(expired.status, "invalid-time");
    assert.match(
      expired.status === "invalid-time" ? expired.reason : "",
      /is not within the report lifetime \(86400 s\)$/,
    );
    assert.equal(node.ledger.score("203.0.113.22"), 0);
    assert.equal(node.ledger.score("203.0.113.23"), 0);

    const before = Date.now();
    assert.equal(node.reportLocal("203.0.113.24", "sshd").status, "accepted");
    const after = Date.now();
    const now = expiry("203.0.113.24")! - lifetimeMs;
    assert.ok(now >= before && now <= after, "no time: now");

    // Already reported (within its lifetime): a duplicate, whatever time the copy carries.
    assert.equal(node.reportLocal("203.0.113.21", "sshd", Date.now() - 1000).status, "duplicate");
  });
});
