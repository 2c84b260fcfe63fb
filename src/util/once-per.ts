/**
 * Lets an event through once per interval per key: refused connections are logged with the peer's
 * address (what an admin wants to feed to fail2ban), but a flood from one address is one line a minute.
 */
export class OncePer {
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #last = new Map<string, number>();

  constructor(intervalMs: number, maxKeys = 10_000) {
    this.#intervalMs = intervalMs;
    this.#maxKeys = maxKeys;
  }

  /** True when `key` was not let through within the interval before `now`. */
  allow(key: string, now: number): boolean {
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#intervalMs) return false;
    // Many distinct keys (a scan from many addresses) must not grow this map without bound.
    if (last === undefined && this.#last.size >= this.#maxKeys) this.#last.clear();
    this.#last.set(key, now);
    return true;
  }
}
