-- Second factors and passkeys (src/storage/factors.ts).
--
-- One TOTP secret per user. `confirmed_at` is NULL while enrolment waits for the first code; only a
-- confirmed secret is asked for at sign-in. `last_step` is the last time step accepted, so a code is
-- never accepted twice (RFC 6238 §5.2).
CREATE TABLE user_totp (
  user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret       TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  confirmed_at INTEGER,
  last_step    INTEGER NOT NULL DEFAULT 0
) STRICT;

-- One-time recovery codes: only the SHA-256 of each (80 random bits) is kept.
CREATE TABLE recovery_codes (
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash  TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  used_at    INTEGER,
  PRIMARY KEY (user_id, code_hash)
) STRICT;

-- WebAuthn credentials (passkeys). `id` is the credential id (base64url), unique across users.
CREATE TABLE passkeys (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  public_key   BLOB NOT NULL,
  counter      INTEGER NOT NULL,
  transports   TEXT NOT NULL,
  name         TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
) STRICT;
CREATE INDEX passkeys_user ON passkeys (user_id);

-- WebAuthn challenges that were answered: a challenge is made and checked without the database
-- (an HMAC over its expiry and what it was issued for, src/web/factors.ts), so showing a sign-in page
-- writes nothing; once an answer to it verifies, it is recorded here until it expires and is never
-- accepted again.
CREATE TABLE webauthn_challenges (
  challenge  TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_at);
