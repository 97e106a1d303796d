-- One row that GET /readyz rewrites to prove the database still accepts writes. It is updated in
-- place, so probing never grows the database.
CREATE TABLE health_check (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at INTEGER NOT NULL
) STRICT;
