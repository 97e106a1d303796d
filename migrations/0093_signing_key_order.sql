-- The order in which signing keys were added, so that of two keys activating in the same second
-- the one added last wins on both engines (src/storage/keys.ts). SQLite had it in its rowid;
-- PostgreSQL had nothing and broke the tie by key id, at random (a rotation within the second of
-- the previous one could keep signing with the older key).
ALTER TABLE signing_keys ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE signing_keys SET seq = rowid;
