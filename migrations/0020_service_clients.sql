-- Service clients: agents without a user (client credentials, the MCP extension
-- oauth-client-credentials). The OAuth client itself is oidc-provider's Client row in oidc_models;
-- this row is what only an admin can give it: which MCP servers (resource URIs, space-separated)
-- and which scopes it may get tokens for, and who registered it.
CREATE TABLE service_clients (
  client_id   TEXT PRIMARY KEY,
  resources   TEXT NOT NULL,
  scopes      TEXT NOT NULL,
  auth_method TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  created_by  TEXT NOT NULL
) STRICT;
