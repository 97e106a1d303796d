-- The PostgreSQL twin of migrations/0093_signing_key_order.sql. Keys already there are numbered
-- by when they were made, then by key id: the best order left to recover.
ALTER TABLE signing_keys ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
UPDATE signing_keys SET seq = ordered.n
  FROM (SELECT kid, ROW_NUMBER() OVER (ORDER BY created_at, kid) AS n FROM signing_keys) AS ordered
  WHERE signing_keys.kid = ordered.kid;
