import type { KeyObject } from "node:crypto";
import nacl from "tweetnacl";
import { privateKeyObject } from "../../src/protocol/signing.js";

export interface TestKey {
  readonly publicKey: Buffer;
  readonly secretKey: Buffer;
  readonly signer: KeyObject;
}

/** A deterministic Ed25519 key for tests (seed filled with `n`). */
export function testKey(n: number): TestKey {
  const pair = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(n));
  const secretKey = Buffer.from(pair.secretKey);
  return { publicKey: Buffer.from(pair.publicKey), secretKey, signer: privateKeyObject(secretKey) };
}
