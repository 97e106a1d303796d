-- Issue #5: agents as clients.
-- Metadata-document agents have no oidc_models row (oidc-provider fetches their document): what
-- the admin's agent list shows of them is kept here, refreshed each time the document is used.
ALTER TABLE client_state ADD COLUMN name TEXT;
ALTER TABLE client_state ADD COLUMN redirect_uris TEXT;

-- Domains an admin disabled: no metadata document is fetched from them or their subdomains.
CREATE TABLE client_domain_blocks (
  domain     TEXT PRIMARY KEY,
  blocked_at INTEGER NOT NULL,
  blocked_by TEXT NOT NULL
) STRICT;

-- Initial access tokens for MCP_OAUTH_REGISTRATION=token (RFC 7591 §3), made with
-- `mcp-oauth clients token`. Only a SHA-256 of the 256-bit token is stored; it is shown once.
CREATE TABLE registration_tokens (
  id           TEXT PRIMARY KEY,
  token_hash   TEXT NOT NULL UNIQUE,
  label        TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  uses_left    INTEGER,
  last_used_at INTEGER
) STRICT;
