-- Initial schema. Ids are UUIDv7 made by the application; timestamps are app-made ISO strings
-- stored at millisecond precision so both dialects hold the very same values.

create table users (
  id            uuid primary key,
  email         text not null,
  name          text,
  role          text not null check (role in ('admin', 'user')),
  password_hash text not null,
  disabled      boolean not null default false,
  created_at    timestamptz(3) not null,
  updated_at    timestamptz(3) not null,
  version       integer not null,
  deleted_at    timestamptz(3)
);

-- A soft-deleted user frees the email for a new account.
create unique index users_email_live on users (email) where deleted_at is null;

create table sessions (
  id          uuid primary key,
  user_id     uuid not null references users (id),
  token_hash  text not null,
  expires_at  timestamptz(3) not null,
  revoked_at  timestamptz(3),
  -- no foreign key: replication may deliver the replacing session after this one
  replaced_by uuid,
  created_at  timestamptz(3) not null,
  updated_at  timestamptz(3) not null,
  version     integer not null,
  constraint sessions_token_hash_key unique (token_hash)
);

create index sessions_user_id on sessions (user_id);

create table notes (
  id          uuid primary key,
  owner_id    uuid not null references users (id),
  title       text not null,
  body        text not null,
  -- noteSearchText(title, body): lower-cased in JS so both dialects fold unicode alike
  search_text text not null,
  created_at  timestamptz(3) not null,
  updated_at  timestamptz(3) not null,
  version     integer not null,
  deleted_at  timestamptz(3)
);

create index notes_owner_id_id on notes (owner_id, id);

-- actor_id/target_id are plain text without foreign keys: an audit event must never be refused
-- because of what it points at.
create table audit (
  id        uuid primary key,
  at        timestamptz(3) not null,
  action    text not null,
  actor_id  text,
  target_id text,
  ip        text,
  details   jsonb
);

-- "C" collation: keys sort bytewise, as in SQLite, so exportRows pages alike in both dialects.
create table settings (
  key        text collate "C" primary key,
  value      text not null,
  updated_at timestamptz(3) not null,
  version    integer not null
);

-- Outbox entries already replayed here: makes a repeated replay change nothing.
create table applied_ops (
  op_id      uuid primary key,
  applied_at timestamptz(3) not null default now()
);

-- Replayed rows that could not be applied (unique clash, missing parent): kept, never dropped.
create table sync_conflicts (
  id       uuid primary key,
  at       timestamptz(3) not null,
  tbl      text not null,
  row_id   text not null,
  reason   text not null,
  row_json jsonb not null
);
