import assert from "node:assert/strict";
import fs from "node:fs";
import type os from "node:os";
import { after, describe, it } from "node:test";
import { preflight } from "../../src/cli/preflight.js";
import { loadNodeConfig } from "../../src/config/load.js";
import { writeNetworkFiles } from "../../src/demo/local-network.js";

/** `check` warns, as `run` does, when this host's addresses no longer fit in the never-ban list. */
describe("check: the never-ban list for friends", () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  const interfaces = {
    eth0: [
      {
        address: "198.51.100.20",
        family: "IPv4",
        internal: false,
        netmask: "255.255.255.0",
        mac: "00:00:00:00:00:00",
        cidr: "198.51.100.20/24",
      },
    ],
  } as ReturnType<typeof os.networkInterfaces>;

  async function configWith(lines: string): Promise<string> {
    const files = await writeNetworkFiles({ nodes: [{ name: "a" }], links: [] });
    dirs.push(files.dir);
    const config = files.configs.get("a")!;
    fs.appendFileSync(config, lines);
    return config;
  }

  it("warns when 64 configured ranges leave no room for this host's addresses, and names them", async () => {
    const many = Array.from({ length: 64 }, (_, i) => `'203.0.113.${i}'`).join(", ");
    const config = loadNodeConfig(await configWith(`share_never_ban: [${many}]\n`));
    const found = await preflight(config, interfaces);
    assert.deepEqual(
      found.warnings.filter((w) => w.startsWith("share_never_ban")),
      [
        "share_never_ban: the never-ban list for friends holds at most 64 entries; this host's addresses 198.51.100.20 do not fit and are not sent (share fewer ranges, or set share_own_addresses: false)",
      ],
    );
  });

  it("says nothing when everything fits, or when this host's addresses are not shared", async () => {
    const fits = loadNodeConfig(await configWith("share_never_ban: ['203.0.113.0/24']\n"));
    assert.deepEqual(
      (await preflight(fits, interfaces)).warnings.filter((w) => w.startsWith("share_never_ban")),
      [],
    );
    const many = Array.from({ length: 64 }, (_, i) => `'203.0.113.${i}'`).join(", ");
    const own = loadNodeConfig(await configWith(`share_never_ban: [${many}]\nshare_own_addresses: false\n`));
    assert.deepEqual(
      (await preflight(own, interfaces)).warnings.filter((w) => w.startsWith("share_never_ban")),
      [],
    );
  });
});
