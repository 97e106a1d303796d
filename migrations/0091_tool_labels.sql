-- Classification labels on single tools of an MCP server (src/lib/tool_labels.ts): shown on the
-- consent page, and carried in access tokens for the proxy to enforce (deny, no write, second factor).
CREATE TABLE tool_labels (
  resource_id    INTEGER NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
  tool           TEXT NOT NULL,
  classification TEXT NOT NULL CHECK (classification IN ('public', 'internal', 'confidential', 'personal_data')),
  updated_at     INTEGER NOT NULL,
  updated_by     TEXT NOT NULL,
  PRIMARY KEY (resource_id, tool)
) STRICT;
