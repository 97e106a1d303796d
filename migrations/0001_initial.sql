-- Initial schema. Times are integer epoch seconds. Forward only: never edit an applied migration.

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
  disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
) STRICT;

-- MCP servers that may receive tokens (RFC 8707 resource indicators, canonical form).
CREATE TABLE resources (
  id         INTEGER PRIMARY KEY,
  uri        TEXT NOT NULL UNIQUE,
  name       TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE resource_scopes (
  resource_id INTEGER NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
  scope       TEXT NOT NULL,
  description TEXT NOT NULL,
  is_default  INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
  is_write    INTEGER NOT NULL DEFAULT 0 CHECK (is_write IN (0, 1)),
  position    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (resource_id, scope)
) STRICT;

-- Credentials a resource server uses for introspection (and the revocation feed): only a hash.
CREATE TABLE resource_credentials (
  id          TEXT PRIMARY KEY,
  resource_id INTEGER NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
  secret_hash TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  last_used_at INTEGER
) STRICT;
CREATE INDEX resource_credentials_resource ON resource_credentials (resource_id);

-- Every oidc-provider model (Client, Grant, Session, AuthorizationCode, RefreshToken, ...).
-- grant_id, account_id and client_id are lifted out of the payload so grants can be listed and
-- revoked by user or agent (oidc-provider has no such lookup, shared/PITFALLS.md item 8).
CREATE TABLE oidc_models (
  model       TEXT NOT NULL,
  id          TEXT NOT NULL,
  payload     TEXT NOT NULL,
  grant_id    TEXT,
  account_id  TEXT,
  client_id   TEXT,
  uid         TEXT,
  user_code   TEXT,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER,
  consumed_at INTEGER,
  PRIMARY KEY (model, id)
) STRICT;
CREATE INDEX oidc_models_grant ON oidc_models (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_models_account ON oidc_models (model, account_id) WHERE account_id IS NOT NULL;
CREATE INDEX oidc_models_client ON oidc_models (model, client_id) WHERE client_id IS NOT NULL;
CREATE INDEX oidc_models_uid ON oidc_models (uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_models_user_code ON oidc_models (user_code) WHERE user_code IS NOT NULL;
CREATE INDEX oidc_models_expires ON oidc_models (expires_at) WHERE expires_at IS NOT NULL;

-- Signing keys. A key is published from created_at, signs from activates_at, is retired when a
-- newer key activates, and is dropped once every token it signed has expired (expires_at).
CREATE TABLE signing_keys (
  kid          TEXT PRIMARY KEY,
  alg          TEXT NOT NULL,
  private_jwk  TEXT NOT NULL,
  public_jwk   TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  activates_at INTEGER NOT NULL,
  retired_at   INTEGER,
  expires_at   INTEGER
) STRICT;

-- Server-generated secrets (cookie signing keys).
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- Security events (filled by the audit module).
CREATE TABLE audit_events (
  id         INTEGER PRIMARY KEY,
  at         INTEGER NOT NULL,
  event      TEXT NOT NULL,
  result     TEXT NOT NULL,
  user_id    TEXT,
  client_id  TEXT,
  resource   TEXT,
  grant_id   TEXT,
  ip         TEXT,
  user_agent TEXT,
  details    TEXT
) STRICT;
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user ON audit_events (user_id, at);
CREATE INDEX audit_events_client ON audit_events (client_id, at);
