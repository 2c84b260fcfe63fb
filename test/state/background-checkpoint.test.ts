import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { signReport } from "../../src/protocol/report.js";
import { CHECKPOINT_PAGES, WAL_BACKSTOP_PAGES } from "../../src/state/checkpointer.js";
import { SqliteStore } from "../../src/state/sqlite-store.js";
import type { StoredReport } from "../../src/state/store.js";
import { testKey } from "../helpers/keys.js";
import { waitFor } from "../helpers/wait.js";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function stateDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-checkpoint-"));
  dirs.push(dir);
  return dir;
}

const origin = testKey(7);
const FRIEND = "f1".repeat(32);
const T0 = Date.now();

function stored(i: number): StoredReport {
  const signed = signReport(
    { ip: `198.51.100.${(i % 250) + 1}`, time: T0 + i, origin: origin.publicKey, jail: "sshd" },
    origin.signer,
  );
  return {
    signed,
    trust: 80,
    via: FRIEND,
    path: [origin.publicKey, Buffer.from(FRIEND, "hex")],
    shorter: [],
    broughtBy: FRIEND,
    acceptedAt: T0,
    expiresAt: T0 + 86_400_000,
  };
}

describe("state store: WAL checkpoints on a worker thread", () => {
  it("copies the WAL into state.db once it holds CHECKPOINT_PAGES pages, off the committing connection", async () => {
    const dir = stateDir();
    const store = new SqliteStore(dir, { backgroundCheckpoints: true });
    const file = path.join(dir, "state.db");
    const before = fs.statSync(file).size;
    // A WAL frame is a 24-byte header and a 4,096-byte page, after the WAL's 32-byte header.
    const walPages = () => Math.floor((fs.statSync(`${file}-wal`).size - 32) / (24 + 4096));
    let inserted = 0;
    while (walPages() <= CHECKPOINT_PAGES) {
      store.transaction(() => {
        for (let i = 0; i < 200; i++) store.insertReport(stored(inserted++));
      });
    }
    // Far below the committing connection's own threshold (WAL_BACKSTOP_PAGES): only the worker copies.
    assert.ok(walPages() < WAL_BACKSTOP_PAGES);
    await waitFor(() => fs.statSync(file).size > before, 10_000, "state.db to grow by a checkpoint");
    assert.equal(store.counts().reports, inserted);
    store.close();
    const reopened = new SqliteStore(dir);
    assert.equal(reopened.counts().reports, inserted);
    assert.equal(reopened.broughtCounts().get(FRIEND), inserted);
    reopened.close();
  });

  it("without it, the committing connection keeps SQLite's own checkpoints (none below 1,000 pages)", () => {
    const dir = stateDir();
    const store = new SqliteStore(dir);
    const file = path.join(dir, "state.db");
    const before = fs.statSync(file).size;
    store.transaction(() => {
      for (let i = 0; i < 50; i++) store.insertReport(stored(i));
    });
    assert.equal(fs.statSync(file).size, before);
    store.close();
  });
});

describe("state store: counters added once per transaction", () => {
  it("are in friend_counts when the transaction commits, and counted while it is open", () => {
    const dir = stateDir();
    const store = new SqliteStore(dir);
    store.begin();
    store.transaction(() => {
      for (let i = 0; i < 3; i++) store.insertReport(stored(i));
    });
    assert.equal(store.broughtCounts().get(FRIEND), 3);
    store.insertReport(stored(3));
    assert.equal(store.broughtCounts().get(FRIEND), 4);
    store.commit();
    assert.equal(store.broughtCounts().get(FRIEND), 4);
    store.close();
    const reopened = new SqliteStore(dir);
    assert.equal(reopened.broughtCounts().get(FRIEND), 4);
    assert.equal(reopened.counts().reports, 4);
    reopened.close();
  });

  it("are undone with a savepoint that throws, and with a rolled-back transaction", () => {
    const dir = stateDir();
    const store = new SqliteStore(dir);
    store.begin();
    store.insertReport(stored(0));
    assert.throws(() =>
      store.transaction(() => {
        store.insertReport(stored(1));
        store.insertReport(stored(0)); // the same id again: the insert fails, the savepoint is undone
      }),
    );
    assert.equal(store.broughtCounts().get(FRIEND), 1);
    store.commit();
    store.begin();
    store.insertReport(stored(2));
    store.rollback();
    assert.equal(store.broughtCounts().get(FRIEND), 1);
    store.insertReport(stored(3)); // outside any transaction: committed at once, count too
    store.close();
    const reopened = new SqliteStore(dir);
    assert.equal(reopened.broughtCounts().get(FRIEND), 2);
    assert.equal(reopened.counts().reports, 2);
    reopened.close();
  });

  it("friend_worth: shown while the transaction is open, written at its commit, undone with it", () => {
    const dir = stateDir();
    const store = new SqliteStore(dir);
    const worthOf = (s: SqliteStore) => s.friendWorth().find((w) => w.friend === FRIEND);
    store.begin();
    store.addFriendWorth(FRIEND, { bans: 1 });
    store.addFriendWorth(FRIEND, { bans: 1, brought: 2 });
    assert.equal(worthOf(store)?.bans, 2);
    assert.equal(worthOf(store)?.brought, 2);
    store.commit();
    assert.throws(() =>
      store.transaction(() => {
        store.addFriendWorth(FRIEND, { confirmed: 5 });
        throw new Error("the transaction fails");
      }),
    );
    store.begin();
    store.addFriendWorth(FRIEND, { bans: 7 });
    store.rollback();
    store.addFriendWorth(FRIEND, { confirmed: 1 }); // outside any transaction: written at once
    store.close();
    const reopened = new SqliteStore(dir);
    assert.deepEqual(
      { ...worthOf(reopened), leadTimesMs: undefined, rejected: undefined },
      { friend: FRIEND, brought: 2, confirmed: 1, bans: 2, leadTimesMs: undefined, rejected: undefined },
    );
    reopened.close();
  });
});

describe("state store: revocation lookups", () => {
  const REVOKED = { origin: FRIEND, time: T0, reason: "mistake", expiresAt: T0 + 86_400_000 };

  it("find a revocation made after lookups found none, also in a later transaction", () => {
    const store = new SqliteStore(stateDir());
    assert.equal(store.revocation("198.51.100.1", FRIEND), undefined);
    assert.deepEqual(store.revocations("198.51.100.1"), []);
    store.transaction(() => store.revoke("198.51.100.1", REVOKED));
    assert.equal(store.revocation("198.51.100.1", FRIEND)?.reason, "mistake");
    assert.equal(store.revocations("198.51.100.1").length, 1);
    store.close();
  });

  it("find a revocation again when the transaction that expired the last one is rolled back", () => {
    const store = new SqliteStore(stateDir());
    store.transaction(() => store.revoke("198.51.100.1", REVOKED));
    store.begin();
    store.expire(T0 + 86_400_000, 100);
    assert.equal(store.revocation("198.51.100.1", FRIEND), undefined);
    store.rollback();
    assert.equal(store.revocation("198.51.100.1", FRIEND)?.reason, "mistake");
    store.close();
  });
});
