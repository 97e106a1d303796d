-- Per-agent policy (src/grants/policy.ts): which MCP servers and scopes an agent may get, and a
-- read-only switch. An agent is named by its client id (a metadata-document URL is one) or by the
-- domain serving its metadata document. NULL resources or scopes: no restriction of that kind.
CREATE TABLE agent_policies (
  id          INTEGER PRIMARY KEY,
  match_kind  TEXT NOT NULL CHECK (match_kind IN ('client', 'domain')),
  match_value TEXT NOT NULL,
  resources   TEXT,
  scopes      TEXT,
  read_only   INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
  updated_at  INTEGER NOT NULL,
  updated_by  TEXT NOT NULL,
  UNIQUE (match_kind, match_value)
) STRICT;
