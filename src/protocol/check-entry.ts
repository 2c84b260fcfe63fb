import { MAX_CLOCK_SKEW_MS } from "./constants.js";
import type { CarriedReport, Entry } from "./envelope.js";
import { ok, type Result, reject } from "./rejections.js";
import type { SignedReport } from "./report.js";
import { decodeRecord, signingTagOf } from "./revocation.js";
import { sha256, verifyTagged } from "./signing.js";
import type { VerifiedSignatures } from "./verified-signatures.js";

export interface EntryContext {
  readonly self: Buffer;
  /** Signing key of the friend whose envelope carried the entry (already verified). */
  readonly hop: Buffer;
  readonly now: number;
  readonly lifetimeMs: number;
  readonly maxHops: number;
  /** A report we already verified, by id: its bytes hash to the id, so it needs no second verify. */
  readonly known: (id: Buffer) => SignedReport | undefined;
  /**
   * The origin-signature check of this very record made already (node/verify-pool.ts, on another
   * thread, with the same decodeRecord and verifyTagged), or undefined: it is made here.
   */
  readonly verdict?: (carried: CarriedReport) => boolean | undefined;
  /** Signatures found valid in this process: consulted before verifying, told of each verified. */
  readonly verified?: VerifiedSignatures;
}

/**
 * Checks one report (or revocation: the same checks, its own signing tag) inside an opened envelope,
 * cheapest checks first, the origin's signature last.
 * Returns the verified report or the reason it is refused; never throws.
 */
export function checkEntry(entry: Entry, carried: CarriedReport, ctx: EntryContext): Result<SignedReport> {
  if (entry.trust > 100) return reject("bad-trust");
  if (entry.path.length > ctx.maxHops) return reject("path-too-long");
  const pathCheck = checkPath(entry.path, ctx);
  if (pathCheck !== undefined) return reject(pathCheck);
  if (!sha256(carried.bytes).equals(entry.id)) return reject("id-mismatch");

  const known = ctx.known(entry.id);
  let report = known?.report;
  if (report === undefined) {
    const decoded = decodeRecord(carried.bytes);
    if (!decoded.ok) return decoded;
    report = decoded.value;
  }
  if (!report.origin.equals(entry.path[0]!)) return reject("bad-path");
  if (ctx.now - report.time >= ctx.lifetimeMs) return reject("expired");
  if (report.time - ctx.now > MAX_CLOCK_SKEW_MS) return reject("from-future");
  // A report we hold was verified on these very bytes (same hash): no second verify needed.
  if (known !== undefined) return ok(known);
  // Only the origin signs its records: a revocation signed by anyone else fails here.
  const valid =
    ctx.verdict?.(carried) ??
    (ctx.verified?.has(entry.id, carried.signature) ||
      verifyTagged(signingTagOf(report), carried.bytes, carried.signature, report.origin));
  if (!valid) return reject("bad-origin-signature");
  ctx.verified?.add(entry.id, carried.signature);
  return ok({ report, bytes: carried.bytes, signature: carried.signature, id: Buffer.from(entry.id) });
}

function checkPath(
  path: readonly Buffer[],
  ctx: EntryContext,
): "bad-path" | "loop" | "own-report" | undefined {
  if (!path[path.length - 1]!.equals(ctx.hop)) return "bad-path";
  if (path[0]!.equals(ctx.self)) return "own-report";
  const seen = new Set<string>();
  for (const key of path) {
    if (key.equals(ctx.self)) return "loop";
    const hex = key.toString("hex");
    if (seen.has(hex)) return "bad-path";
    seen.add(hex);
  }
  return undefined;
}

/**
 * Checks a report read back from this node's own store or an old journal before it is used or leaves
 * the node (to a friend, in a resend, in an import): disk damage must never travel. The same checks as
 * on arrival (docs/protocol.md §10): bytes decode with a canonical IP, hash to the id, carry the
 * origin's valid signature, and the time is neither expired nor in the future. `verdict`: the
 * origin-signature check of these very bytes made already (node/verify-pool.ts), or undefined.
 * `verified`: signatures found valid in this process; one found there (same id, so the same bytes,
 * and the same signature) is not verified again, and one verified here is added.
 */
export function checkStoredReport(
  signed: SignedReport,
  now: number,
  lifetimeMs: number,
  verdict?: boolean,
  verified?: VerifiedSignatures,
): Result<SignedReport> {
  const decoded = decodeRecord(signed.bytes);
  if (!decoded.ok) return decoded;
  if (!sha256(signed.bytes).equals(signed.id)) return reject("id-mismatch");
  const report = decoded.value;
  if (now - report.time >= lifetimeMs) return reject("expired");
  if (report.time - now > MAX_CLOCK_SKEW_MS) return reject("from-future");
  const valid =
    verdict ??
    (verified?.has(signed.id, signed.signature) ||
      verifyTagged(signingTagOf(report), signed.bytes, signed.signature, report.origin));
  if (!valid) return reject("bad-origin-signature");
  verified?.add(signed.id, signed.signature);
  return ok({ ...signed, report });
}
