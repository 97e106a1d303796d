-- The PostgreSQL twin of migrations/0091_tool_labels.sql.
CREATE TABLE tool_labels (
  resource_id    BIGINT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
  tool           TEXT NOT NULL,
  classification TEXT NOT NULL CHECK (classification IN ('public', 'internal', 'confidential', 'personal_data')),
  updated_at     BIGINT NOT NULL,
  updated_by     TEXT NOT NULL,
  PRIMARY KEY (resource_id, tool)
);
