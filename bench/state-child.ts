/**
 * Child process of the state benchmark: fills a node's state store (`state_dir/state.db`) with `count`
 * live reports of distinct IPs, exactly as the node's ledger records them (really signed reports by
 * 1,000 origins, relayed by 8 friends), in transactions of 64 like one envelope each. The node is then
 * started on that state dir by the parent, as `f2bp2p run`.
 */
import crypto from "node:crypto";
import nacl from "tweetnacl";
import { REPORT_SIGNING_TAG } from "../src/protocol/constants.js";
import { decodeReport, encodeReport, type SignedReport } from "../src/protocol/report.js";
import { privateKeyObject, sha256 } from "../src/protocol/signing.js";
import { Ledger } from "../src/state/ledger.js";
import { SqliteStore } from "../src/state/sqlite-store.js";
import { relayedTrust } from "../src/trust/rules.js";
import { docIp, prng } from "./common.js";

const count = Number(process.argv[2]);
const stateDir = process.argv[3]!;
/** First docIp index to use: the parent reports fresh IPs below it. */
const offset = Number(process.argv[4] ?? 0);

function main(): Record<string, number> {
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
  const store = new SqliteStore(stateDir);
  const ledger = new Ledger(store, {
    lifetimeMs: 86_400_000,
    threshold: 80,
    trustOfVia: (via) => trustOf.get(via) ?? 0,
    maxReportsPerFriend: 10_000_000,
  });
  const now = Date.now();
  let signMs = 0;
  let applyMs = 0;
  const BATCH = 64;
  for (let start = 0; start < count; start += BATCH) {
    const end = Math.min(count, start + BATCH);
    const friend = friends[Math.floor(start / BATCH) % friends.length]!;
    const batch: SignedReport[] = [];
    const t0 = performance.now();
    for (let i = start; i < end; i++) {
      const origin = origins[i % origins.length]!;
      const bytes = encodeReport({ ip: docIp(offset + i), time: now, origin: origin.pub, jail: "sshd" });
      const signature = crypto.sign(null, Buffer.concat([REPORT_SIGNING_TAG, bytes]), origin.key);
      const report = (decodeReport(bytes) as { ok: true; value: SignedReport["report"] }).value;
      batch.push({ report, bytes, signature, id: sha256(bytes) });
    }
    const t1 = performance.now();
    store.transaction(() => {
      for (const signed of batch) {
        const outcome = ledger.apply({
          signed,
          trust: relayedTrust(Math.floor(rand() * 101), friend.trust),
          via: friend.key.toString("hex"),
          path: [signed.report.origin, friend.key],
          at: now,
        });
        if (outcome.kind === "accepted" && outcome.banNow) {
          const { ip } = signed.report;
          store.decideBan({
            ip,
            score: outcome.score,
            origin: "-",
            hops: 2,
            decidedAt: now,
            writtenAt: now,
            withheld: false,
          });
        }
      }
    });
    signMs += t1 - t0;
    applyMs += performance.now() - t1;
  }
  const counts = store.counts();
  store.close();
  if (counts.reports !== count) throw new Error(`store holds ${counts.reports} reports, wanted ${count}`);
  return { signMs, applyMs, applyPerSec: count / (applyMs / 1000), bans: counts.bans };
}

process.send?.({ op: "filled", result: main() });
