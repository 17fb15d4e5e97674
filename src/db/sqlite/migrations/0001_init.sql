-- SQLite schema: the same tables as PostgreSQL's, in SQLite's types. STRICT so a wrong type is an
-- error, not a silent conversion. Ids are UUIDv7 text made by the application; timestamps are ISO-8601
-- UTC text made by the application, so they compare correctly as text.

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  email         TEXT NOT NULL,
  name          TEXT,
  role          TEXT NOT NULL CHECK (role IN ('admin', 'user')),
  password_hash TEXT NOT NULL,
  disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  version       INTEGER NOT NULL CHECK (version >= 1),
  deleted_at    TEXT
) STRICT;

-- A soft-deleted user gives the email back.
CREATE UNIQUE INDEX users_email_live ON users (email) WHERE deleted_at IS NULL;

CREATE TABLE sessions (
  id          TEXT PRIMARY KEY,
  user_id     TEXT NOT NULL REFERENCES users (id),
  token_hash  TEXT NOT NULL,
  expires_at  TEXT NOT NULL,
  revoked_at  TEXT,
  replaced_by TEXT,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  version     INTEGER NOT NULL CHECK (version >= 1)
) STRICT;

CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE notes (
  id          TEXT PRIMARY KEY,
  owner_id    TEXT NOT NULL REFERENCES users (id),
  title       TEXT NOT NULL,
  body        TEXT NOT NULL,
  -- noteSearchText(title, body): lower-cased in JS so both dialects fold unicode alike
  search_text TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  version     INTEGER NOT NULL CHECK (version >= 1),
  deleted_at  TEXT
) STRICT;

CREATE INDEX notes_owner_id ON notes (owner_id, id);

-- No foreign keys: the trail outlives the users it names, and replays in any order.
CREATE TABLE audit (
  id        TEXT PRIMARY KEY,
  at        TEXT NOT NULL,
  action    TEXT NOT NULL,
  actor_id  TEXT,
  target_id TEXT,
  ip        TEXT,
  details   TEXT
) STRICT;

CREATE TABLE settings (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version    INTEGER NOT NULL CHECK (version >= 1)
) STRICT;

-- Writes PostgreSQL has not received yet. AUTOINCREMENT so a seq is never reused after an ack,
-- which keeps "replay in seq order" true across acks.
CREATE TABLE outbox (
  seq      INTEGER PRIMARY KEY AUTOINCREMENT,
  op_id    TEXT NOT NULL UNIQUE,
  tbl      TEXT NOT NULL,
  row_id   TEXT NOT NULL,
  row_json TEXT NOT NULL,
  at       TEXT NOT NULL
) STRICT;

CREATE TABLE sync_conflicts (
  id       TEXT PRIMARY KEY,
  at       TEXT NOT NULL,
  tbl      TEXT NOT NULL,
  row_id   TEXT NOT NULL,
  reason   TEXT NOT NULL,
  row_json TEXT NOT NULL
) STRICT;
