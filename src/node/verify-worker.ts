/**
 * The body of a signature-check thread of VerifyPool (verify-pool.ts): for each record of a batch,
 * whether it decodes and carries its origin's valid signature, with exactly the functions
 * checkEntry uses on the main thread (decodeRecord, signingTagOf, verifyTagged).
 */
import os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { decodeRecord, signingTagOf } from "../protocol/revocation.js";
import { verifyTagged } from "../protocol/signing.js";

/** One batch: records packed as bytes then signature, each `lengths[2i]` and `lengths[2i+1]` long. */
export interface VerifyRequest {
  readonly id: number;
  readonly data: ArrayBuffer;
  readonly lengths: Uint32Array;
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

parentPort?.on("message", ({ id, data, lengths }: VerifyRequest) => {
  const valid = new Uint8Array(lengths.length / 2);
  let at = 0;
  for (let i = 0; i < valid.length; i++) {
    const bytes = Buffer.from(data, at, lengths[2 * i]);
    at += lengths[2 * i]!;
    const signature = Buffer.from(data, at, lengths[2 * i + 1]);
    at += lengths[2 * i + 1]!;
    const decoded = decodeRecord(bytes);
    valid[i] =
      decoded.ok && verifyTagged(signingTagOf(decoded.value), bytes, signature, decoded.value.origin) ? 1 : 0;
  }
  const answer: VerifyAnswer = { id, valid };
  parentPort!.postMessage(answer, [valid.buffer]);
});
