/**
 * The rules of never-ban lists (docs/protocol.md section 18.4) without I/O: what this node puts in
 * its own list, and which contributions a friend's list holds back.
 */
import assert from "node:assert/strict";
import type os from "node:os";
import { describe, it } from "node:test";
import { FriendNeverBanLists, isShielded } from "../../src/node/friend-never-ban.js";
import { sharedNeverBan } from "../../src/node/shared-never-ban.js";
import { type IpRange, parseIp, parseRange } from "../../src/protocol/ip.js";
import type { StoredContribution } from "../../src/state/store.js";

type Interfaces = ReturnType<typeof os.networkInterfaces>;

function iface(address: string, internal = false): os.NetworkInterfaceInfo {
  const family = address.includes(":") ? "IPv6" : "IPv4";
  return {
    address,
    internal,
    family,
    netmask: "",
    mac: "00:00:00:00:00:00",
    cidr: null,
  } as os.NetworkInterfaceInfo;
}

function range(text: string): IpRange {
  const parsed = parseRange(text);
  assert.ok(parsed.ok, text);
  return parsed.range;
}

function contribution(origin: string, via: string): StoredContribution {
  return { origin, via, trust: 100, hops: 1, firstSeen: 0, expiresAt: 1e15 };
}

describe("sharedNeverBan: this node's own list", () => {
  const interfaces: Interfaces = {
    lo: [iface("127.0.0.1", true), iface("::1", true)],
    eth0: [iface("10.1.2.3"), iface("198.51.100.20"), iface("fe80::1%eth0"), iface("2001:db8:5::7")],
  };

  it("configured ranges first, then this host's public addresses; private, loopback and link-local left out", () => {
    const { ranges, left } = sharedNeverBan(["203.0.113.0/24"], true, interfaces);
    assert.deepEqual(
      ranges.map((r) => r.text),
      ["203.0.113.0/24", "198.51.100.20", "2001:db8:5::7"],
    );
    assert.deepEqual(left, []);
  });

  it("leaves out an address a configured range covers, and shares none with share_own_addresses off", () => {
    assert.deepEqual(
      sharedNeverBan(["198.51.100.0/24"], true, interfaces).ranges.map((r) => r.text),
      ["198.51.100.0/24", "2001:db8:5::7"],
    );
    assert.deepEqual(
      sharedNeverBan(["198.51.100.0/24"], false, interfaces).ranges.map((r) => r.text),
      ["198.51.100.0/24"],
    );
  });

  it("stops at 64 ranges and says which addresses did not fit", () => {
    const configured = Array.from({ length: 64 }, (_, i) => `203.0.113.${i}`);
    const { ranges, left } = sharedNeverBan(configured, true, interfaces);
    assert.equal(ranges.length, 64);
    assert.deepEqual(left, ["198.51.100.20", "2001:db8:5::7"]);
  });
});

describe("FriendNeverBanLists: what a friend's list holds back", () => {
  const lists = new FriendNeverBanLists();
  lists.set("f", {
    from: Buffer.alloc(32),
    to: Buffer.alloc(32),
    time: 1,
    expiresAt: 1000,
    ranges: [range("198.51.100.0/24")],
  });
  const ip = parseIp("198.51.100.9")!;

  it("covers its ranges while in force, for friends still configured", () => {
    assert.deepEqual(
      lists.shields(ip, 500, () => false),
      [{ friend: "f", all: false }],
    );
    assert.deepEqual(
      lists.shields(parseIp("198.51.101.9")!, 500, () => false),
      [],
    );
    assert.deepEqual(
      lists.shields(ip, 1000, () => false),
      [],
      "expired",
    );
    assert.deepEqual(
      lists.shields(ip, 500, () => undefined),
      [],
      "friend removed",
    );
    assert.equal(lists.nextExpiry(500), 1000);
    assert.equal(lists.nextExpiry(1000), undefined);
  });

  it("holds back the friend's own reports and those that came through it; all reports when trusted for all", () => {
    const shields = lists.shields(ip, 500, () => false);
    assert.equal(isShielded(contribution("f", "f"), shields), true, "its own");
    assert.equal(isShielded(contribution("x", "f"), shields), true, "relayed through it");
    assert.equal(isShielded(contribution("x", "y"), shields), false, "another friend's");
    assert.equal(isShielded(contribution("f", "y"), shields), true, "its report through another friend");
    const all = lists.shields(ip, 500, () => true);
    assert.equal(isShielded(contribution("x", "y"), all), true);
  });
});
