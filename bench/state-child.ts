/**
 * Child process of the state benchmark (run with --expose-gc so memory is measured after a full GC, in
 * a process that holds nothing else). Fills a Ledger with `count` distinct IPs the way a node's
 * handleMessage does (really signed reports by 1,000 origins, relayed by 8 friends, buffers shaped as
 * they come off the wire), then times lookups, a full "sync answer", an expiry scan, and the node's
 * journal (src/state/journal.ts): its compacted size on disk, the time to write it and to replay it.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import nacl from "tweetnacl";
import { REPORT_SIGNING_TAG } from "../src/protocol/constants.js";
import { decodeReport, encodeReport, type SignedReport } from "../src/protocol/report.js";
import { privateKeyObject, sha256 } from "../src/protocol/signing.js";
import { Journal } from "../src/state/journal.js";
import { Ledger } from "../src/state/ledger.js";
import { relayedTrust } from "../src/trust/rules.js";
import { docIp, median, percentile, prng } from "./common.js";

const count = Number(process.argv[2]);
const dir = process.argv[3]!;
const gc = (globalThis as { gc?: () => void }).gc;

function memory(): NodeJS.MemoryUsage {
  gc?.();
  gc?.();
  return process.memoryUsage();
}

/** Ledger options with the largest per-friend quota, so the quota never limits the fill. */
function ledgerOptions(trustOf: Map<string, number>): ConstructorParameters<typeof Ledger>[0] {
  return {
    lifetimeMs: 86_400_000,
    threshold: 80,
    trustOfVia: (via: string) => trustOf.get(via) ?? 0,
    maxReportsPerFriend: 10_000_000,
  };
}

/** A copy in its own allocation, as ZeroMQ hands each received frame to Node. */
function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(bytes.length);
  out.set(bytes);
  return out;
}

function main(): {
  journalFile: string;
  trustOf: Map<string, number>;
  result: Record<string, unknown> & { journal: Record<string, number> };
} {
  const rand = prng(7);
  const origins = Array.from({ length: 1000 }, () => {
    const keys = nacl.sign.keyPair();
    return { pub: Buffer.from(keys.publicKey), key: privateKeyObject(keys.secretKey) };
  });
  const friends = Array.from({ length: 8 }, (_, i) => ({
    key: Buffer.from(nacl.sign.keyPair().publicKey),
    trust: 80 + i * 2,
  }));
  const trustOf = new Map(friends.map((f) => [f.key.toString("hex"), f.trust]));
  const now = Date.now();
  const before = memory();
  const ledger = new Ledger(ledgerOptions(trustOf));

  let signMs = 0;
  let applyMs = 0;
  let bans = 0;
  const BATCH = 64;
  for (let start = 0; start < count; start += BATCH) {
    const end = Math.min(count, start + BATCH);
    const friend = friends[Math.floor(start / BATCH) % friends.length]!;
    // One envelope per batch: every entry's path is a view into its bytes, as decodeEnvelope makes them.
    const envelope = Buffer.allocUnsafeSlow((end - start) * 64);
    for (let i = start; i < end; i++) {
      const origin = origins[i % origins.length]!;
      const t0 = performance.now();
      const raw = encodeReport({ ip: docIp(i), time: now, origin: origin.pub, jail: "sshd" });
      const rawSignature = crypto.sign(null, Buffer.concat([REPORT_SIGNING_TAG, raw]), origin.key);
      const t1 = performance.now();
      const bytes = frame(raw);
      const signature = frame(rawSignature);
      const at = (i - start) * 64;
      origin.pub.copy(envelope, at);
      friend.key.copy(envelope, at + 32);
      const signed: SignedReport = {
        report: (decodeReport(bytes) as { ok: true; value: SignedReport["report"] }).value,
        bytes,
        signature,
        id: Buffer.from(sha256(bytes)),
      };
      const outcome = ledger.apply({
        signed,
        trust: relayedTrust(Math.floor(rand() * 101), friend.trust),
        via: friend.key.toString("hex"),
        path: [envelope.subarray(at, at + 32), envelope.subarray(at + 32, at + 64)],
        at: now,
      });
      if (outcome.kind === "accepted" && outcome.banNow) bans++;
      signMs += t1 - t0;
      applyMs += performance.now() - t1;
    }
  }
  const after = memory();
  if (ledger.ipCount !== count || ledger.reportCount !== count)
    throw new Error(`ledger holds ${ledger.ipCount} IPs and ${ledger.reportCount} reports, wanted ${count}`);

  // Lookups: random known IPs, and IPs the ledger has never seen; ns per lookup, median over batches.
  const sample = Array.from({ length: 1000 }, () => docIp(Math.floor(rand() * count)));
  const unknown = Array.from({ length: 1000 }, (_, i) => docIp(count + 1 + i));
  const perLookup = (ips: string[], rounds: number): number[] => {
    const out: number[] = [];
    let acc = 0;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      for (const ip of ips) acc += ledger.score(ip);
      out.push(((performance.now() - t0) * 1e6) / ips.length);
    }
    if (acc < 0) throw new Error("unreachable");
    return out;
  };
  perLookup(sample, 20);
  const hit = perLookup(sample, 300);
  const miss = perLookup(unknown, 300);

  // Sync answer: every live IP with its score, as an answer to a friend asking for the current list.
  // Ledger.live() yields reports, not IPs, so IPs seen twice are skipped with a Set.
  const syncRuns: number[] = [];
  let answerBytes = 0;
  let answerIps = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    const seen = new Set<string>();
    const answer: [string, number][] = [];
    for (const arrival of ledger.live()) {
      const ip = arrival.signed.report.ip;
      if (seen.has(ip)) continue;
      seen.add(ip);
      answer.push([ip, ledger.score(ip)]);
    }
    syncRuns.push(performance.now() - t0);
    answerIps = answer.length;
    if (r === 0) answerBytes = Buffer.byteLength(JSON.stringify(answer));
  }

  // The node's periodic expiry when nothing has expired yet: a full scan of both maps.
  const expireRuns: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    ledger.expire(now);
    expireRuns.push(performance.now() - t0);
  }

  // The store on disk: the node's journal, compacted as at start (one record per live report).
  const journal = new Journal(dir);
  const tj = performance.now();
  journal.open(ledger.live());
  const journalWriteMs = performance.now() - tj;
  journal.close();
  const journalBytes = fs.statSync(journal.file).size;
  return {
    journalFile: journal.file,
    trustOf,
    result: {
      count,
      bans,
      fill: { signMs, applyMs, applyPerSec: (count / applyMs) * 1000 },
      memory: {
        before: {
          rss: before.rss,
          heapUsed: before.heapUsed,
          external: before.external,
          arrayBuffers: before.arrayBuffers,
        },
        after: {
          rss: after.rss,
          heapUsed: after.heapUsed,
          external: after.external,
          arrayBuffers: after.arrayBuffers,
        },
      },
      lookupNs: { hitMedian: median(hit), hitP99: percentile(hit, 99), missMedian: median(miss) },
      syncAnswer: { medianMs: median(syncRuns), runs: syncRuns, ips: answerIps, jsonBytes: answerBytes },
      expireScanMs: median(expireRuns),
      journal: { bytes: journalBytes, writeMs: journalWriteMs },
    },
  };
}

/**
 * What a restart costs: read the journal and replay it into an empty ledger, as F2bNode.start() does
 * before it listens. Runs after the filled ledger is gone, so the heap is that of a fresh process.
 */
function restore(file: string, trustOf: Map<string, number>): Record<string, number> {
  const before = memory();
  const t0 = performance.now();
  const arrivals = new Journal(path.dirname(file)).read();
  const t1 = performance.now();
  const restored = new Ledger(ledgerOptions(trustOf));
  for (const arrival of arrivals) restored.apply(arrival);
  const t2 = performance.now();
  if (restored.ipCount !== count) throw new Error(`restored ${restored.ipCount} IPs, wanted ${count}`);
  const peakRss = process.memoryUsage().rss - before.rss;
  return { readMs: t1 - t0, replayMs: t2 - t1, restoreMs: t2 - t0, peakRssGrowth: peakRss };
}

try {
  const { journalFile, trustOf, result } = main();
  const restart = restore(journalFile, trustOf);
  fs.rmSync(journalFile, { force: true });
  process.send?.({ op: "result", result: { ...result, journal: { ...result.journal, ...restart } } });
} catch (err: unknown) {
  process.send?.({ op: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
}
process.disconnect?.();
