-- Identity Assertion JWT Authorization Grants already used (src/provider/id_jag.ts): each assertion
-- is accepted once (its issuer and `jti`), and remembered until it expires.
CREATE TABLE id_jag_assertions (
  issuer     TEXT NOT NULL,
  jti        TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (issuer, jti)
) STRICT;
CREATE INDEX id_jag_assertions_expiry ON id_jag_assertions (expires_at);
