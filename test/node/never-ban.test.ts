import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadNodeConfig } from "../../src/config/load.js";
import { NeverBan } from "../../src/node/never-ban.js";
import { configError, problemAt, tempDir, writeFile } from "../config/helpers.js";

describe("never-ban list", () => {
  const never = new NeverBan([], {});

  it("special-purpose addresses are never banned by default, with the registry's name", () => {
    const cases: [string, RegExp][] = [
      ["0.0.0.0", /this network/],
      ["::", /unspecified/],
      ["::0.0.0.0", /unspecified/],
      ["127.0.0.1", /loopback/],
      ["::1", /loopback/],
      ["10.1.2.3", /private use/],
      ["172.16.0.1", /private use/],
      ["192.168.1.1", /private use/],
      ["100.64.0.1", /shared address space/],
      ["169.254.10.20", /link local/],
      ["fe80::1", /link local/],
      ["fd12:3456::1", /unique local/],
      ["224.0.0.251", /multicast/],
      ["ff02::1", /multicast/],
      ["255.255.255.255", /broadcast/],
      ["198.18.0.1", /benchmarking/],
      ["::ffff:10.0.0.1", /private use/],
    ];
    for (const [ip, why] of cases) assert.match(never.reason(ip) ?? "bannable", why, ip);
  });

  it("documentation ranges and ordinary addresses stay bannable", () => {
    for (const ip of [
      "192.0.2.5",
      "198.51.100.5",
      "203.0.113.5",
      "2001:db8::5",
      "3fff::1",
      "8.8.8.8",
      "2606:4700::1111",
      "2002:cb00:7105::1",
      "64:ff9b::cb00:7105",
      "::c000:23d",
    ]) {
      assert.equal(never.reason(ip), undefined, ip);
    }
  });

  it("the ignore list, own addresses and friends' addresses say why", () => {
    const list = new NeverBan(["203.0.113.0/28"], {
      eth0: [
        {
          address: "198.51.100.9",
          netmask: "255.255.255.0",
          family: "IPv4",
          mac: "00:00:00:00:00:00",
          internal: false,
          cidr: "198.51.100.9/24",
        },
      ],
    });
    list.add("2001:db8::77", "the address of friend b");
    assert.equal(list.reason("203.0.113.15"), "on the ignore list (203.0.113.0/28)");
    assert.equal(list.reason("203.0.113.16"), undefined);
    assert.equal(list.reason("198.51.100.9"), "an address of this host");
    assert.equal(list.reason("2001:db8::77"), "the address of friend b");
    assert.equal(list.add("not-an-address"), false);
  });
});

describe("special_bannable: parts of the special-purpose blocks banned like any address", () => {
  it("config reads and normalises it; the never-ban list then lets those addresses through", (t) => {
    const dir = tempDir(t);
    const file = writeFile(
      dir,
      "f2bp2p.yaml",
      'name: n\nlisten: tcp://127.0.0.1:7711\nignore: [10.9.0.0/16]\nspecial_bannable: [10.0.0.77/8, "fd00::/8"]\n',
    );
    const config = loadNodeConfig(file);
    assert.deepEqual(config.specialBannable, ["10.0.0.0/8", "fd00::/8"]);
    const list = new NeverBan(config.ignore, {}, config.specialBannable);
    assert.equal(list.reason("10.1.2.3"), undefined);
    assert.equal(list.reason("fd12::1"), undefined);
    // The ignore list still wins, and every other special-purpose block stays never banned.
    assert.equal(list.reason("10.9.1.1"), "on the ignore list (10.9.0.0/16)");
    assert.match(list.reason("192.168.1.1") ?? "", /private use/);
    assert.match(list.reason("fc00::1") ?? "", /unique local/);
    assert.match(list.reason("127.0.0.1") ?? "", /loopback/);
  });

  it("a bad entry is refused like an ignore entry, naming the key", (t) => {
    const dir = tempDir(t);
    const file = writeFile(
      dir,
      "f2bp2p.yaml",
      "name: n\nlisten: tcp://127.0.0.1:7711\nspecial_bannable: [10.0.0.0/33]\n",
    );
    problemAt(
      configError(() => loadNodeConfig(file)),
      file,
      "special_bannable[0]",
      "out-of-range",
    );
  });
});
