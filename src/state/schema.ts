/**
 * The state store's schema, as migrations: migration N brings a database from version N-1 to N
 * (PRAGMA user_version). A database newer than this code is refused, never downgraded.
 * docs/configuration.md ("What survives a crash") describes the tables for the sysadmin with `sqlite3`.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: reports (the seen cache, with the best copy of each), contributions (the score table),
  // bans (the decision and whether its line is written), set_aside (reports that failed a re-check).
  `
  -- The report's IP, origin and time are inside bytes; the copy's friend is the last key of path.
  CREATE TABLE reports (
    id          BLOB PRIMARY KEY,   -- message id: SHA-256 of bytes (docs/protocol.md)
    bytes       BLOB NOT NULL,      -- the report exactly as the origin signed it
    signature   BLOB NOT NULL,
    trust       INTEGER NOT NULL,   -- best copy: trust here
    path        BLOB NOT NULL,      -- best copy: path keys, 32 bytes each, origin first; empty: our own
    shorter     TEXT,               -- weaker copies with shorter paths, JSON [[trust,hops],...]
    brought_by  BLOB,               -- friend whose copy came first (quota); NULL: our own
    accepted_at INTEGER NOT NULL,   -- when a copy was last accepted here, local ms
    expires_at  INTEGER NOT NULL    -- origin's time + report lifetime
  ) WITHOUT ROWID;
  CREATE INDEX reports_by_expiry ON reports (expires_at);
  CREATE INDEX reports_by_acceptance ON reports (accepted_at, id);

  -- Live reports each friend brought (the per-friend quota), kept with every insert and expiry.
  CREATE TABLE friend_counts (friend BLOB PRIMARY KEY, reports INTEGER NOT NULL) WITHOUT ROWID;

  CREATE TABLE contributions (
    ip         TEXT NOT NULL,
    origin     BLOB NOT NULL,
    trust      INTEGER NOT NULL,
    via        BLOB,
    hops       INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,    -- when this node first accepted a report of this origin, local ms
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (ip, origin)
  ) WITHOUT ROWID;
  CREATE INDEX contributions_by_expiry ON contributions (expires_at);

  CREATE TABLE bans (
    ip         TEXT PRIMARY KEY,
    score      INTEGER NOT NULL,
    origin     TEXT NOT NULL,       -- short id of the origin that completed the score
    hops       INTEGER NOT NULL,
    decided_at INTEGER NOT NULL,
    written_at INTEGER,             -- NULL: line not yet in the bans log
    withheld   INTEGER NOT NULL DEFAULT 0  -- 1: on the never-ban list, never written
  ) WITHOUT ROWID;
  CREATE INDEX bans_pending ON bans (decided_at) WHERE written_at IS NULL AND withheld = 0;

  CREATE TABLE set_aside (
    id     BLOB NOT NULL,
    reason TEXT NOT NULL,
    at     INTEGER NOT NULL,
    bytes  BLOB,
    signature BLOB
  );

  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  `,
  // 2: catch-up sync (docs/protocol.md section 13). Every new or improved best copy gets the next
  // log sequence number; the log id names this store's numbering, so a wiped store starts a new one;
  // sync_cursors says, per friend, how far into that friend's log everything has been taken in.
  `
  ALTER TABLE reports ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
  UPDATE reports SET seq = numbered.n
    FROM (SELECT id, row_number() OVER (ORDER BY accepted_at, id) AS n FROM reports) AS numbered
    WHERE numbered.id = reports.id;
  CREATE INDEX reports_by_seq ON reports (seq);
  -- Resending by acceptance time is replaced by the log: its index would only slow every insert.
  DROP INDEX reports_by_acceptance;
  INSERT OR REPLACE INTO meta (key, value) VALUES ('log_id', lower(hex(randomblob(16))));

  CREATE TABLE sync_cursors (
    friend     BLOB PRIMARY KEY,    -- the friend's signing key
    log_id     BLOB NOT NULL,       -- the friend's log this cursor is in (16 bytes)
    after      INTEGER NOT NULL,    -- everything of that log up to this seq is taken in here
    updated_at INTEGER NOT NULL     -- local ms
  ) WITHOUT ROWID;
  `,
  // 3: what each friend is worth (docs/trust.md, "What each friend is worth"): counters per friend,
  // the lead times of its confirmations, its refusals by reason code. New tables only.
  `
  CREATE TABLE friend_worth (
    friend    BLOB PRIMARY KEY,            -- signing key of the friend (or of an import pseudo-friend)
    brought   INTEGER NOT NULL DEFAULT 0,  -- reports whose first copy here came through it
    confirmed INTEGER NOT NULL DEFAULT 0,  -- IPs it brought that this node's own jails banned later
    bans      INTEGER NOT NULL DEFAULT 0   -- bans decided here with its contribution in the score
  ) WITHOUT ROWID;

  -- One row per confirmation, the newest MAX_LEAD_SAMPLES per friend: the median lead time.
  CREATE TABLE friend_lead_times (
    friend  BLOB NOT NULL,
    at      INTEGER NOT NULL,              -- when the local report confirmed it, local ms
    lead_ms INTEGER NOT NULL               -- local detection time minus when the friend's report came
  );
  CREATE INDEX friend_lead_times_by_friend ON friend_lead_times (friend, at);

  CREATE TABLE friend_rejections (
    friend BLOB NOT NULL,
    code   TEXT NOT NULL,                  -- reject code (docs/protocol.md section 11)
    count  INTEGER NOT NULL,
    PRIMARY KEY (friend, code)
  ) WITHOUT ROWID;
  `,
  // 4: revocations (docs/protocol.md section 17): per IP and origin, the newest revocation held. Its
  // record is in reports like any report (seen cache, catch-up log); this table is what the checks
  // of later reports and the views look up. It lives as long as that record: time + report lifetime.
  `
  CREATE TABLE revocations (
    ip         TEXT NOT NULL,
    origin     BLOB NOT NULL,       -- the origin's signing key: whose reports are withdrawn
    time       INTEGER NOT NULL,    -- reports of this origin and IP with a time up to this are revoked
    reason     TEXT NOT NULL,
    expires_at INTEGER NOT NULL,    -- time + report lifetime
    PRIMARY KEY (ip, origin)
  ) WITHOUT ROWID;
  CREATE INDEX revocations_by_expiry ON revocations (expires_at);
  `,
  // 5: never-ban lists (docs/protocol.md section 18): the newest list each friend sent, as received
  // (bytes and signature), and, on a ban record, the friend whose list holds it back.
  `
  CREATE TABLE never_ban_lists (
    friend     BLOB PRIMARY KEY,    -- the friend's signing key
    time       INTEGER NOT NULL,    -- the list's time (the friend's clock, ms): a newer one replaces it
    expires_at INTEGER NOT NULL,    -- when it stops being in force (ms)
    bytes      BLOB NOT NULL,
    signature  BLOB NOT NULL
  ) WITHOUT ROWID;
  -- Set on a withheld ban record while a friend's never-ban list holds the ban back: when the list
  -- changes or expires the address is looked at again.
  ALTER TABLE bans ADD COLUMN held_by BLOB;
  `,
  // 6: reports becomes a rowid table. Keyed by its random message id (WITHOUT ROWID), every report
  // went into a random page of rows some 300 bytes long, which each commit wrote whole; now rows go
  // in at the end in arrival order and only the index on id takes a random place, so a catch-up's
  // commits write about half as much (docs/performance.md "catch-up"). Same columns, same meaning.
  `
  CREATE TABLE reports_v6 (
    id          BLOB NOT NULL PRIMARY KEY,  -- message id: SHA-256 of bytes (docs/protocol.md)
    bytes       BLOB NOT NULL,      -- the report exactly as the origin signed it
    signature   BLOB NOT NULL,
    trust       INTEGER NOT NULL,   -- best copy: trust here
    path        BLOB NOT NULL,      -- best copy: path keys, 32 bytes each, origin first; empty: our own
    shorter     TEXT,               -- weaker copies with shorter paths, JSON [[trust,hops],...]
    brought_by  BLOB,               -- friend whose copy came first (quota); NULL: our own
    accepted_at INTEGER NOT NULL,   -- when a copy was last accepted here, local ms
    expires_at  INTEGER NOT NULL,   -- origin's time + report lifetime
    seq         INTEGER NOT NULL DEFAULT 0  -- catch-up log sequence number of the best copy
  );
  INSERT INTO reports_v6 (id, bytes, signature, trust, path, shorter, brought_by, accepted_at, expires_at, seq)
    SELECT id, bytes, signature, trust, path, shorter, brought_by, accepted_at, expires_at, seq
    FROM reports ORDER BY seq;
  DROP TABLE reports;
  ALTER TABLE reports_v6 RENAME TO reports;
  CREATE INDEX reports_by_expiry ON reports (expires_at);
  CREATE INDEX reports_by_seq ON reports (seq);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Bytes of a catch-up log id (meta `log_id`, hex): docs/protocol.md section 13. */
export const LOG_ID_BYTES = 16;
