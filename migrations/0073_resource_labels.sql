-- Classification labels on MCP servers (src/lib/labels.ts): shown on the consent page, and
-- driving policy (a shorter access-token lifetime, no write scopes, approval of new agents).
CREATE TABLE resource_labels (
  resource_id    INTEGER PRIMARY KEY REFERENCES resources (id) ON DELETE CASCADE,
  classification TEXT NOT NULL CHECK (classification IN ('public', 'internal', 'confidential', 'personal_data')),
  updated_at     INTEGER NOT NULL,
  updated_by     TEXT NOT NULL
) STRICT;
