import { VIA_SELF } from "../trust/rules.js";

/**
 * How many live reports each friend brought into the store, against `max_reports_per_friend`: a friend
 * can sign reports as invented origins, and this keeps one from filling the node's disk and table.
 * Our own reports (VIA_SELF) are not limited. Counts start from the store and follow inserts and
 * expiry; they live in memory because there are at most as many entries as friends.
 */
export class FriendQuota {
  readonly #max: number;
  #counts: Map<string, number>;

  constructor(max: number, counts: Map<string, number>) {
    this.#max = max;
    this.#counts = counts;
  }

  full(via: string): boolean {
    return via !== VIA_SELF && (this.#counts.get(via) ?? 0) >= this.#max;
  }

  count(via: string): number {
    return this.#counts.get(via) ?? 0;
  }

  add(via: string): void {
    if (via !== VIA_SELF) this.#counts.set(via, (this.#counts.get(via) ?? 0) + 1);
  }

  remove(via: string): void {
    const left = (this.#counts.get(via) ?? 1) - 1;
    if (left > 0) this.#counts.set(via, left);
    else this.#counts.delete(via);
  }

  reset(counts: Map<string, number>): void {
    this.#counts = counts;
  }
}
