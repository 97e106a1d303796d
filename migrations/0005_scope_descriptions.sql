-- Scope descriptions in other languages than the one given with --scope (issue 8, "Languages").
-- The consent and Connected agents pages show the reader's language when there is one here, and
-- the resource_scopes description otherwise. Removing a scope or its resource removes these too.
CREATE TABLE resource_scope_descriptions (
  resource_id INTEGER NOT NULL,
  scope       TEXT NOT NULL,
  lang        TEXT NOT NULL CHECK (length(lang) BETWEEN 2 AND 8),
  description TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
  PRIMARY KEY (resource_id, scope, lang),
  FOREIGN KEY (resource_id, scope) REFERENCES resource_scopes (resource_id, scope) ON DELETE CASCADE
) STRICT;
