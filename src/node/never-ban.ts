import os from "node:os";
import { type IpRange, type ParsedIp, parseIp, parseRange, rangeContains } from "../protocol/ip.js";
import { SPECIAL_PURPOSE_BLOCKS } from "./special-purpose.js";

/**
 * Addresses the node never writes to the bans log and never reports, so a node can never lock its
 * own admin out: special-purpose blocks (special-purpose.ts), the configured ignore list, this
 * host's own interface addresses and friends' endpoints. Ranges follow protocol/ip.ts, the grammar
 * `check` validates with, so what `check` accepts is exactly what is enforced here.
 */
export class NeverBan {
  readonly #entries: { readonly range: IpRange; readonly why: string; readonly special: boolean }[] = [];
  /** Config `special_bannable`: parts of the special-purpose blocks banned like any address here. */
  readonly #specialBannable: IpRange[] = [];

  /**
   * `ignore` and `specialBannable` are config ranges (protocol/ip.ts grammar); `interfaces` are this
   * host's own addresses (os.networkInterfaces() shape).
   */
  constructor(
    ignore: readonly string[],
    interfaces = os.networkInterfaces(),
    specialBannable: readonly string[] = [],
  ) {
    for (const entry of specialBannable) {
      const parsed = parseRange(entry);
      if (parsed.ok) this.#specialBannable.push(parsed.range);
    }
    for (const block of SPECIAL_PURPOSE_BLOCKS) {
      this.#entries.push({
        range: block.range,
        why: `special-purpose address: ${block.name}`,
        special: true,
      });
    }
    for (const entry of ignore) this.add(entry, `on the ignore list (${entry})`);
    for (const addresses of Object.values(interfaces)) {
      for (const a of addresses ?? [])
        if (!a.address.includes("%")) this.add(a.address, "an address of this host");
    }
  }

  /**
   * Adds an address or range (already validated by the config loader or resolved by DNS); `why` is
   * shown when an address is not reported for it. Returns false for text that is not one.
   */
  add(entry: string, why = "on the never-ban list"): boolean {
    const parsed = parseRange(entry);
    if (parsed.ok) this.#entries.push({ range: parsed.range, why, special: false });
    return parsed.ok;
  }

  /** Why the address is never banned, or undefined when it may be banned (also for non-addresses). */
  reason(ip: string | ParsedIp): string | undefined {
    const parsed = typeof ip === "string" ? parseIp(ip) : ip;
    if (parsed === null) return undefined;
    const bannableSpecial = this.#specialBannable.some((r) => rangeContains(r, parsed));
    return this.#entries.find((e) => !(e.special && bannableSpecial) && rangeContains(e.range, parsed))?.why;
  }

  has(ip: string): boolean {
    return this.reason(ip) !== undefined;
  }
}
