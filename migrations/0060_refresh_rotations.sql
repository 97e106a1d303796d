-- The refresh-token family of each grant (src/provider/refresh_grace.ts): one row per rotation,
-- keyed by the rotated-out token. The first rotation of a token claims the row; every other
-- presentation of that token inside the reuse grace window is handed the same successor, so a
-- grant keeps one chain. `successor` is a refresh token's id, as oidc_models already stores it; it
-- is never shown (the console shows times, addresses and counts) and dies with the grant's tokens.
CREATE TABLE refresh_rotations (
  predecessor TEXT PRIMARY KEY,
  successor TEXT NOT NULL,
  grant_id TEXT NOT NULL,
  client_id TEXT,
  rotation INTEGER NOT NULL,
  rotated_at INTEGER NOT NULL,
  ip TEXT,
  presentations INTEGER NOT NULL DEFAULT 1,
  addresses INTEGER NOT NULL DEFAULT 1,
  last_ip TEXT,
  last_presented_at INTEGER NOT NULL
) STRICT;
CREATE INDEX refresh_rotations_grant ON refresh_rotations (grant_id, rotated_at);
