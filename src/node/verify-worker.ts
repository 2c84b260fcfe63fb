/**
 * The body of a signature-check thread of VerifyPool (verify-pool.ts): for each record of a batch,
 * whether it decodes and carries its origin's valid signature, with exactly the functions
 * checkEntry uses on the main thread (decodeRecord, signingTagOf, verifyTagged); for each envelope,
 * whether it carries the valid signature of the key in its `from` field, as openMessage checks it.
 */
import os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { ENVELOPE_SIGNING_TAG, KEY_BYTES } from "../protocol/constants.js";
import { decodeRecord, signingTagOf } from "../protocol/revocation.js";
import { verifyTagged } from "../protocol/signing.js";

/** What an item of a batch is: a record (report or revocation) or an envelope (docs/protocol.md section 6). */
export const ITEM_RECORD = 0;
export const ITEM_ENVELOPE = 1;

/**
 * One batch: items packed as bytes then signature, each `lengths[2i]` and `lengths[2i+1]` long, of
 * the kind `kinds[i]`.
 */
export interface VerifyRequest {
  readonly id: number;
  readonly data: ArrayBuffer;
  readonly lengths: Uint32Array;
  readonly kinds: Uint8Array;
}

/** 1 where the record's origin signature is valid, 0 where not (or it does not decode). */
export interface VerifyAnswer {
  readonly id: number;
  readonly valid: Uint8Array;
}

try {
  // Pid 0: this thread alone (Linux keeps a nice value per thread).
  os.setPriority(0, (workerData as { nice: number }).nice);
} catch {
  // Not allowed or not supported here: the thread runs at the main thread's priority.
}

/** The envelope's signature by the key its `from` field names (offset 4); openMessage checks the rest. */
function envelopeSigned(bytes: Buffer, signature: Buffer): boolean {
  return (
    bytes.length >= 4 + KEY_BYTES &&
    verifyTagged(ENVELOPE_SIGNING_TAG, bytes, signature, bytes.subarray(4, 4 + KEY_BYTES))
  );
}

function recordSigned(bytes: Buffer, signature: Buffer): boolean {
  const decoded = decodeRecord(bytes);
  return decoded.ok && verifyTagged(signingTagOf(decoded.value), bytes, signature, decoded.value.origin);
}

parentPort?.on("message", ({ id, data, lengths, kinds }: VerifyRequest) => {
  const valid = new Uint8Array(lengths.length / 2);
  let at = 0;
  for (let i = 0; i < valid.length; i++) {
    const bytes = Buffer.from(data, at, lengths[2 * i]);
    at += lengths[2 * i]!;
    const signature = Buffer.from(data, at, lengths[2 * i + 1]);
    at += lengths[2 * i + 1]!;
    const signed =
      kinds[i] === ITEM_ENVELOPE ? envelopeSigned(bytes, signature) : recordSigned(bytes, signature);
    valid[i] = signed ? 1 : 0;
  }
  const answer: VerifyAnswer = { id, valid };
  parentPort!.postMessage(answer, [valid.buffer]);
});
