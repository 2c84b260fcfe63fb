import crypto, { type KeyObject } from "node:crypto";

/**
 * Ed25519 with node:crypto's native implementation on the hot path. Keys are kept in tweetnacl's
 * format on disk (64-byte secret = seed || public key); Ed25519 is deterministic, so both libraries
 * produce byte-identical signatures for the same key (test/protocol/signing.test.ts proves it).
 */

const publicKeyCache = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 4096;

export function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey).toString("base64url");
  let key = publicKeyCache.get(id);
  if (key === undefined) {
    key = crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: id }, format: "jwk" });
    // Origins are unbounded (any friend may relay any origin): keep the cache from growing forever.
    if (publicKeyCache.size >= MAX_CACHED_KEYS) publicKeyCache.clear();
    publicKeyCache.set(id, key);
  }
  return key;
}

/** A private key object from a tweetnacl 64-byte secret key. */
export function privateKeyObject(secretKey: Uint8Array): KeyObject {
  if (secretKey.length !== 64) throw new Error("Ed25519 secret key must be 64 bytes (tweetnacl format)");
  const seed = Buffer.from(secretKey.subarray(0, 32)).toString("base64url");
  const x = Buffer.from(secretKey.subarray(32)).toString("base64url");
  return crypto.createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d: seed, x }, format: "jwk" });
}

/** Signs tag || body. */
export function signTagged(tag: Buffer, body: Uint8Array, key: KeyObject): Buffer {
  return crypto.sign(null, Buffer.concat([tag, body]), key);
}

/** Verifies a signature over tag || body; never throws on malformed input. */
export function verifyTagged(
  tag: Buffer,
  body: Uint8Array,
  signature: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    return crypto.verify(null, Buffer.concat([tag, body]), publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/** crypto.hash, the one-shot digest, came in Node 20.12; package.json allows any Node 20. */
const hasOneShotHash = typeof crypto.hash === "function";

/**
 * SHA-256 of the bytes (32 bytes). Report and revocation ids are hashed for every message received:
 * the one-shot crypto.hash takes about half the time of a Hash object for 100–200 bytes.
 */
export function sha256(bytes: Uint8Array): Buffer {
  if (hasOneShotHash) return crypto.hash("sha256", bytes, "buffer");
  return crypto.createHash("sha256").update(bytes).digest();
}
