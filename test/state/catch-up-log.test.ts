/**
 * The store's catch-up log (docs/protocol.md section 13.1) and its migrations: a store of schema 1
 * (f2bp2p before catch-up sync) is upgraded in place with its reports numbered in acceptance order,
 * one of schema 5 (reports WITHOUT ROWID) with every report and log position kept;
 * sequence numbers only grow, also across expiry and a restart; every store has its own log id.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { signReport } from "../../src/protocol/report.js";
import { Ledger } from "../../src/state/ledger.js";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/state/schema.js";
import { SqliteStore, STORE_FILE } from "../../src/state/sqlite-store.js";
import { StoreDamagedError } from "../../src/state/store.js";
import { VIA_SELF } from "../../src/trust/rules.js";
import { testKey } from "../helpers/keys.js";

const DAY = 86_400_000;
const origin = testKey(1);

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-log-"));
}

function ledgerOver(store: SqliteStore): Ledger {
  return new Ledger(store, {
    lifetimeMs: DAY,
    threshold: 80,
    trustOfVia: () => 80,
    maxReportsPerFriend: 1000,
  });
}

function own(ledger: Ledger, store: SqliteStore, ip: string, time: number): void {
  const signed = signReport({ ip, time, origin: origin.publicKey, jail: "sshd" }, origin.signer);
  store.transaction(() => ledger.apply({ signed, trust: 100, via: VIA_SELF, path: [], at: time }));
}

describe("state store: the catch-up log", () => {
  it("upgrades a schema 1 store in place: reports numbered in acceptance order, a log id made", () => {
    const dir = tempDir();
    const now = Date.now();
    // A store as f2bp2p wrote it before catch-up sync: schema 1, three reports.
    const old = new Database(path.join(dir, STORE_FILE));
    old.exec(MIGRATIONS[0]!);
    old.pragma("user_version = 1");
    old.close();
    {
      // Schema 1 code applied reports through the same ledger: fill it with the columns it had.
      const db = new Database(path.join(dir, STORE_FILE));
      const insert = db.prepare(
        "INSERT INTO reports (id, bytes, signature, trust, path, shorter, brought_by, accepted_at, expires_at) VALUES (?,?,?,100,?,NULL,NULL,?,?)",
      );
      for (const [ip, at] of [
        ["203.0.113.3", now - 1000],
        ["203.0.113.1", now - 3000],
        ["203.0.113.2", now - 2000],
      ] as const) {
        const s = signReport({ ip, time: at, origin: origin.publicKey, jail: "sshd" }, origin.signer);
        insert.run(s.id, s.bytes, s.signature, Buffer.alloc(0), at, at + DAY);
      }
      db.close();
    }
    // `f2bp2p bans` reads without writing: it says the node has to upgrade the store first.
    assert.throws(
      () => new SqliteStore(dir, { readOnly: true }),
      (err: unknown) =>
        err instanceof StoreDamagedError && /start the node .* once so it upgrades/.test(err.message),
    );
    const store = new SqliteStore(dir);
    try {
      const db = new Database(path.join(dir, STORE_FILE), { readonly: true });
      assert.equal(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
      db.close();
      const log = store.logAfter(0, now, 100);
      assert.deepEqual(
        log.map((r) => [r.seq, r.signed.report.ip]),
        [
          [1, "203.0.113.1"],
          [2, "203.0.113.2"],
          [3, "203.0.113.3"],
        ],
      );
      assert.equal(store.logId().length, 16);
      // The next report continues the numbering.
      own(ledgerOver(store), store, "203.0.113.4", now);
      assert.deepEqual(
        store.logAfter(3, now, 100).map((r) => [r.seq, r.signed.report.ip]),
        [[4, "203.0.113.4"]],
      );
    } finally {
      store.close();
    }
  });

  it("upgrades a schema 5 store: every report, copy and log position kept, reports no longer WITHOUT ROWID", () => {
    const dir = tempDir();
    const now = Date.now();
    const friend = testKey(2).publicKey;
    // A store as the previous release wrote it: schema 5, reports keyed by id WITHOUT ROWID.
    const old = new Database(path.join(dir, STORE_FILE));
    for (const migration of MIGRATIONS.slice(0, 5)) old.exec(migration);
    old.pragma("user_version = 5");
    const insert = old.prepare(
      "INSERT INTO reports (id, bytes, signature, trust, path, shorter, brought_by, accepted_at, expires_at, seq) VALUES (?,?,?,?,?,?,?,?,?,?)",
    );
    const written = [
      {
        ip: "203.0.113.21",
        at: now - 3000,
        trust: 100,
        path: Buffer.alloc(0),
        shorter: null,
        by: null,
        seq: 7,
      },
      {
        ip: "2001:db8::21",
        at: now - 2000,
        trust: 80,
        path: friend,
        shorter: "[[60,1]]",
        by: friend,
        seq: 5,
      },
      { ip: "198.51.100.21", at: now - 1000, trust: 64, path: friend, shorter: null, by: friend, seq: 9 },
    ].map((r) => {
      const signed = signReport(
        { ip: r.ip, time: r.at, origin: origin.publicKey, jail: "sshd" },
        origin.signer,
      );
      insert.run(
        signed.id,
        signed.bytes,
        signed.signature,
        r.trust,
        r.path,
        r.shorter,
        r.by,
        r.at,
        r.at + DAY,
        r.seq,
      );
      return { ...r, signed };
    });
    const logId = (old.prepare("SELECT value FROM meta WHERE key = 'log_id'").get() as { value: string })
      .value;
    old.close();

    const upgrades: number[][] = [];
    let upgradedFile = "";
    const store = new SqliteStore(dir, {
      onUpgrade: (file, from, to) => {
        upgradedFile = file;
        upgrades.push([from, to]);
      },
    });
    assert.deepEqual(upgrades, [[5, SCHEMA_VERSION]], "told before the upgrade (run logs it)");
    assert.equal(upgradedFile, path.join(dir, STORE_FILE));
    try {
      for (const r of written) {
        const held = store.report(r.signed.id)!;
        assert.ok(
          held.signed.bytes.equals(r.signed.bytes) && held.signed.signature.equals(r.signed.signature),
        );
        assert.equal(held.signed.report.ip, r.ip);
        assert.equal(held.trust, r.trust);
        assert.equal(held.path.length, r.path.length / 32);
        assert.equal(held.acceptedAt, r.at);
        assert.equal(held.expiresAt, r.at + DAY);
      }
      assert.deepEqual(store.report(written[1]!.signed.id)!.shorter, [{ trust: 60, hops: 1 }]);
      // The catch-up log keeps its id and order.
      assert.equal(store.logId().toString("hex"), logId);
      assert.deepEqual(
        store.logAfter(0, now, 10).map((r) => [r.seq, r.signed.report.ip]),
        [
          [5, "2001:db8::21"],
          [7, "203.0.113.21"],
          [9, "198.51.100.21"],
        ],
      );
      // New reports go on as before, numbered after the highest.
      own(ledgerOver(store), store, "203.0.113.22", now);
      assert.deepEqual(
        store.logAfter(9, now, 10).map((r) => [r.seq, r.signed.report.ip]),
        [[10, "203.0.113.22"]],
      );
    } finally {
      store.close();
    }
    // Upgraded once: opening it again (or a new store) tells of no upgrade.
    new SqliteStore(dir, { onUpgrade: (_file, from, to) => upgrades.push([from, to]) }).close();
    new SqliteStore(tempDir(), { onUpgrade: (_file, from, to) => upgrades.push([from, to]) }).close();
    assert.equal(upgrades.length, 1);
    const db = new Database(path.join(dir, STORE_FILE), { readonly: true });
    try {
      assert.equal(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
      const table = db
        .prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'reports'")
        .get() as {
        sql: string;
      };
      assert.doesNotMatch(table.sql, /WITHOUT ROWID/);
      const indexes = (
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'reports'").all() as {
          name: string;
        }[]
      ).map((i) => i.name);
      for (const name of ["reports_by_expiry", "reports_by_seq"]) assert.ok(indexes.includes(name), name);
      assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
    } finally {
      db.close();
    }
  });

  it("numbers only grow: not reused after the newest reports expire and the store is reopened", () => {
    const dir = tempDir();
    const now = Date.now();
    let store = new SqliteStore(dir);
    let ledger = ledgerOver(store);
    own(ledger, store, "198.51.100.1", now);
    // This one's lifetime ends a second from `now`.
    own(ledger, store, "198.51.100.2", now - DAY + 1000);
    assert.deepEqual(
      store.logAfter(0, now, 10).map((r) => r.seq),
      [1, 2],
    );
    // Nothing expired is in the log.
    assert.deepEqual(
      store.logAfter(0, now + 2000, 10).map((r) => r.seq),
      [1],
    );
    store.transaction(() => ledger.expireStep(now + 2000));
    const logId = Buffer.from(store.logId());
    store.close();

    store = new SqliteStore(dir);
    ledger = ledgerOver(store);
    try {
      own(ledger, store, "198.51.100.3", now);
      assert.deepEqual(
        store.logAfter(0, now, 10).map((r) => [r.seq, r.signed.report.ip]),
        [
          [1, "198.51.100.1"],
          [3, "198.51.100.3"],
        ],
        "sequence number 2 was given again after its report expired",
      );
      assert.deepEqual(store.logId(), logId, "the log id changed on reopening");
    } finally {
      store.close();
    }
    const other = new SqliteStore(tempDir());
    try {
      assert.notDeepEqual(other.logId(), logId, "two stores share a log id");
    } finally {
      other.close();
    }
  });

  it("keeps each friend's cursor across a reopen", () => {
    const dir = tempDir();
    const friend = "ab".repeat(32);
    let store = new SqliteStore(dir);
    assert.equal(store.syncCursor(friend), undefined);
    store.transaction(() =>
      store.setSyncCursor(friend, { logId: Buffer.alloc(16, 7), after: 42 }, Date.now()),
    );
    store.close();
    store = new SqliteStore(dir);
    try {
      assert.deepEqual(store.syncCursor(friend), { logId: Buffer.alloc(16, 7), after: 42 });
    } finally {
      store.close();
    }
  });
});
