-- Grants as people manage them, the revocation feed, agent state, admin API tokens, web sessions.

-- One row per oidc-provider grant, kept after the grant is revoked so the history stays visible.
CREATE TABLE grant_records (
  id           TEXT PRIMARY KEY,
  account_id   TEXT NOT NULL,
  client_id    TEXT NOT NULL,
  resource     TEXT NOT NULL,
  scopes       TEXT NOT NULL,
  obtained_via TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER,
  revoked_by   TEXT,
  revoke_reason TEXT
) STRICT;
CREATE INDEX grant_records_account ON grant_records (account_id, created_at);
CREATE INDEX grant_records_client ON grant_records (client_id, created_at);
CREATE INDEX grant_records_active ON grant_records (revoked_at);

-- The revocation feed resource servers follow. kind 'grant': every token of grant `subject`;
-- kind 'user' / 'client': every token of that user / agent issued at or before `before`.
-- An entry is dropped once every token it covers has expired (expires_at).
CREATE TABLE revocations (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  kind       TEXT NOT NULL CHECK (kind IN ('grant', 'user', 'client')),
  subject    TEXT NOT NULL,
  before     INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX revocations_expires ON revocations (expires_at);

-- What we know about each agent beyond its oidc-provider metadata.
CREATE TABLE client_state (
  client_id     TEXT PRIMARY KEY,
  registered_via TEXT NOT NULL,
  first_used_at INTEGER,
  last_used_at  INTEGER,
  disabled_at   INTEGER,
  disabled_by   TEXT
) STRICT;

-- Admin API tokens: only a SHA-256 of the 256-bit token is stored; it is shown once.
CREATE TABLE admin_tokens (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,
  created_by   TEXT,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER
) STRICT;

-- Browser sessions of the account and admin pages (not OAuth sessions); only the id's hash is kept.
CREATE TABLE web_sessions (
  id_hash    TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
