/**
 * Ed25519 sign and verify per second, tweetnacl against node:crypto, same keys and same message, in the
 * same run; and a check that both produce byte-identical signatures (Ed25519 is deterministic).
 */
import crypto, { type KeyObject } from "node:crypto";
import nacl from "tweetnacl";
import { REPORT_SIGNING_TAG } from "../src/protocol/constants.js";
import { encodeReport } from "../src/protocol/report.js";
import { privateKeyObject, publicKeyObject } from "../src/protocol/signing.js";
import { type BenchContext, type BenchResult, fmt, median, newResult, target } from "./common.js";

/** Runs `op` in rounds of `batch` until `minMs` have passed (or `maxOps`); returns ops per second. */
export function opsPerSecond(op: () => void, minMs: number, batch = 16, maxOps = 10_000_000): number {
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs && ops < maxOps) {
    for (let i = 0; i < batch; i++) op();
    ops += batch;
    elapsed = performance.now() - start;
  }
  return (ops / elapsed) * 1000;
}

/** Median ops/s over `runs` rounds; one untimed warm-up round first. */
export function medianRate(op: () => void, runs: number, minMs: number, batch = 16): number {
  opsPerSecond(op, Math.min(minMs, 50), batch);
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) rates.push(opsPerSecond(op, minMs, batch));
  return median(rates);
}

/** A signed message of the size a node really verifies: the report tag and typical report bytes. */
export function sampleMessage(origin: Uint8Array): Buffer {
  const report = encodeReport({
    ip: "203.0.113.7",
    time: Date.now(),
    origin: Buffer.from(origin),
    jail: "sshd",
  });
  return Buffer.concat([REPORT_SIGNING_TAG, report]);
}

/** Bare node:crypto verify/s of one report-sized message with a ready KeyObject: the ceiling. */
export function bareVerifyRate(runs: number, minMs: number): number {
  const keys = nacl.sign.keyPair();
  const message = sampleMessage(keys.publicKey);
  const signature = crypto.sign(null, message, privateKeyObject(keys.secretKey));
  const publicKey = publicKeyObject(keys.publicKey);
  return medianRate(() => crypto.verify(null, message, publicKey, signature), runs, minMs);
}

export async function signatures(ctx: BenchContext): Promise<BenchResult> {
  const result = newResult("signatures", "Ed25519 sign/verify: tweetnacl vs node:crypto");
  const runs = 5;
  const minMs = ctx.quick ? 60 : 400;
  const keys = nacl.sign.keyPair();
  const secret: KeyObject = privateKeyObject(keys.secretKey);
  const publicKey: KeyObject = publicKeyObject(keys.publicKey);
  const message = sampleMessage(keys.publicKey);

  // Same key, same message: both libraries must give the same 64 bytes, and each must accept the other's.
  for (let i = 0; i < 32; i++) {
    const m = Buffer.concat([message, Buffer.from([i])]);
    const fromNacl = Buffer.from(nacl.sign.detached(m, keys.secretKey));
    const fromNode = crypto.sign(null, m, secret);
    if (!fromNacl.equals(fromNode)) throw new Error(`signatures differ for message ${i}`);
    if (
      !crypto.verify(null, m, publicKey, fromNacl) ||
      !nacl.sign.detached.verify(m, fromNode, keys.publicKey)
    )
      throw new Error(`cross-verification failed for message ${i}`);
  }

  const signature = crypto.sign(null, message, secret);
  ctx.progress("tweetnacl sign");
  const naclSign = medianRate(() => nacl.sign.detached(message, keys.secretKey), runs, minMs, 2);
  ctx.progress("node:crypto sign");
  const nodeSign = medianRate(() => crypto.sign(null, message, secret), runs, minMs);
  ctx.progress("tweetnacl verify");
  const naclVerify = medianRate(
    () => nacl.sign.detached.verify(message, signature, keys.publicKey),
    runs,
    minMs,
    2,
  );
  ctx.progress("node:crypto verify");
  const nodeVerify = medianRate(() => crypto.verify(null, message, publicKey, signature), runs, minMs);

  result.tables.push({
    title: `ops/s, median of ${runs} rounds of ≥${minMs} ms; message ${message.length} bytes (report tag + report)`,
    columns: ["operation", "tweetnacl", "node:crypto", "node:crypto / tweetnacl"],
    rows: [
      ["sign", fmt(naclSign), fmt(nodeSign), `${fmt(nodeSign / naclSign, 1)}×`],
      ["verify", fmt(naclVerify), fmt(nodeVerify), `${fmt(nodeVerify / naclVerify, 1)}×`],
    ],
    note: "signatures byte-identical for 32 messages, and each library accepts the other's: ✓",
  });
  result.data.runs = runs;
  result.data.messageBytes = message.length;
  result.data.tweetnacl = { signPerSec: naclSign, verifyPerSec: naclVerify };
  result.data.nodeCrypto = { signPerSec: nodeSign, verifyPerSec: nodeVerify };
  result.data.ratio = { sign: nodeSign / naclSign, verify: nodeVerify / naclVerify };
  result.data.identicalSignatures = true;
  result.targets.push(
    target("byte-identical signatures", "identical", "identical (32/32)", true),
    target(
      "node:crypto faster than tweetnacl",
      "> 1×",
      `${fmt(nodeVerify / naclVerify, 1)}× verify`,
      nodeVerify > naclVerify,
    ),
  );
  return result;
}
