-- Users who sign in with an organisation's identity provider (src/web/sso.ts): one row per
-- upstream account, keyed by the provider's issuer and subject (OpenID Connect Core §5.7: only
-- the pair identifies an end-user). `checked_at` is when the user's standing upstream was last
-- confirmed (sign-in or a refresh at the provider); `refresh_token` lets the server confirm it again
-- without the user (src/provider/upstream.ts).
CREATE TABLE user_identities (
  issuer        TEXT NOT NULL,
  subject       TEXT NOT NULL,
  provider      TEXT NOT NULL,
  user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  email         TEXT,
  refresh_token TEXT,
  checked_at    INTEGER NOT NULL,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (issuer, subject)
) STRICT;
CREATE INDEX user_identities_user ON user_identities (user_id);
