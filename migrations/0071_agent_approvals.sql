-- The approval queue (MCP_OAUTH_AGENT_APPROVAL, src/grants/approvals.ts): one row per agent a user
-- tried to connect while approval was required, until an admin approves or refuses it.
CREATE TABLE agent_approvals (
  client_id    TEXT PRIMARY KEY,
  state        TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'refused')),
  requested_at INTEGER NOT NULL,
  requested_by TEXT,
  decided_at   INTEGER,
  decided_by   TEXT
) STRICT;
CREATE INDEX agent_approvals_state ON agent_approvals (state, requested_at);
