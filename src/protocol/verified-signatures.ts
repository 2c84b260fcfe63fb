/**
 * Origin signatures this process has found valid, so a stored report about to leave the node is
 * re-checked (checkStoredReport) without a second Ed25519 verification when its exact bytes and
 * signature were verified here before (on arrival, when signed here, or when it left for another
 * friend).
 *
 * Why this is the same check: Ed25519 verification (RFC 8032 section 5.1.7) is a pure function of
 * the signed bytes, the signature and the public key, and the key is inside the bytes. An entry is
 * the record's id, which is SHA-256 of its bytes and is compared with the bytes before this memo is
 * asked, together with the whole signature. A record whose bytes or signature changed on disk finds
 * no entry and is verified in full.
 *
 * Bounded: two generations of at most half the capacity each; when the newer one is full the older
 * one is dropped, so the most recently verified records stay.
 */

/**
 * Records remembered at most, about 5 MB: the newest half is always kept, so a catch-up the size of
 * CrowdSec's community blocklist (15,000) is answered from it in full.
 */
export const VERIFIED_SIGNATURES_KEPT = 32_768;

export class VerifiedSignatures {
  readonly #half: number;
  /** Signature by record id, both as latin1 text: copies, so no received frame stays alive. */
  #newer = new Map<string, string>();
  #older = new Map<string, string>();

  /** `capacity`: records remembered at most, >= 2. */
  constructor(capacity: number = VERIFIED_SIGNATURES_KEPT) {
    if (!Number.isInteger(capacity) || capacity < 2)
      throw new RangeError(`capacity ${capacity}: need an integer >= 2`);
    this.#half = Math.floor(capacity / 2);
  }

  /** Records remembered now. */
  get size(): number {
    return this.#newer.size + this.#older.size;
  }

  /**
   * Remembers that the record with message id `id` (32 bytes: SHA-256 of its bytes, already
   * compared with them) carries the valid origin signature `signature` (64 bytes).
   */
  add(id: Buffer, signature: Buffer): void {
    const key = id.toString("latin1");
    if (this.#newer.size >= this.#half && !this.#newer.has(key)) {
      this.#older = this.#newer;
      this.#newer = new Map();
    }
    this.#newer.set(key, signature.toString("latin1"));
  }

  /** True when the record with this id and this exact signature was found valid here before. */
  has(id: Buffer, signature: Buffer): boolean {
    const key = id.toString("latin1");
    const held = this.#newer.get(key) ?? this.#older.get(key);
    return held !== undefined && held === signature.toString("latin1");
  }
}
