-- Counters that must agree across every node sharing the database (docs/storage.md, "Several
-- nodes"): the per-address request limits and the sign-in back-off (src/web/rate_limit.ts), and
-- the RFC 8628 polling pace of device codes (src/app/device_polling.ts). Each row is read and
-- changed by one atomic upsert; a row past `expires_ms` counts as absent and is reused or purged.
-- Times are milliseconds: blocks and windows are a few seconds long.
CREATE TABLE throttles (
  key        TEXT PRIMARY KEY,
  points     BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL
);
CREATE INDEX throttles_expires ON throttles (expires_ms);

-- One row per device code seen at /token, keyed by a SHA-256 of the code (never the code).
CREATE TABLE device_polls (
  code_hash  TEXT PRIMARY KEY,
  last_ms    BIGINT NOT NULL,
  interval_s INTEGER NOT NULL,
  slowed     INTEGER NOT NULL DEFAULT 0,
  expires_ms BIGINT NOT NULL
);
CREATE INDEX device_polls_expires ON device_polls (expires_ms);
