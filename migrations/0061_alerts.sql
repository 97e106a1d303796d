-- Alerts raised from the audit trail (src/audit/alerts.ts). `dedupe` makes a pattern raise one
-- alert per subject and period (an INSERT that loses says it was raised already). `details` holds
-- identifiers and counts only: never a token, secret or tool argument.
CREATE TABLE alerts (
  id              INTEGER PRIMARY KEY,
  at              INTEGER NOT NULL,
  kind            TEXT NOT NULL,
  user_id         TEXT,
  client_id       TEXT,
  grant_id        TEXT,
  ip              TEXT,
  details         TEXT,
  dedupe          TEXT NOT NULL UNIQUE,
  acknowledged_at INTEGER,
  acknowledged_by TEXT
) STRICT;
CREATE INDEX alerts_at ON alerts (at);
-- The rules look for earlier events of one kind from one address (registrations, sign-ins).
CREATE INDEX audit_events_ip ON audit_events (ip, event, at);
