import net from "node:net";
import os from "node:os";
import { parseIp } from "../protocol/ip.js";

/**
 * Addresses the node never writes to the bans log, so a node can never lock its own admin out:
 * the configured ignore list, loopback, this host's own interface addresses and friends' endpoints.
 */
export class NeverBan {
  readonly #list = new net.BlockList();

  constructor(ignore: readonly string[]) {
    this.#list.addSubnet("127.0.0.0", 8, "ipv4");
    this.#list.addAddress("::1", "ipv6");
    for (const entry of ignore) this.add(entry);
    for (const addresses of Object.values(os.networkInterfaces())) {
      for (const a of addresses ?? []) if (!a.address.includes("%")) this.add(a.address);
    }
  }

  /** Adds an address or CIDR (already validated by the config loader or resolved by DNS). */
  add(entry: string): void {
    const [address, prefix] = entry.split("/");
    const ip = parseIp(address ?? "");
    if (ip === null) return;
    const type = ip.family === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) this.#list.addAddress(ip.text, type);
    else this.#list.addSubnet(ip.text, Number(prefix), type);
  }

  has(ip: string): boolean {
    const parsed = parseIp(ip);
    return parsed !== null && this.#list.check(parsed.text, parsed.family === 4 ? "ipv4" : "ipv6");
  }
}
