import type { Db } from './db.js';

export interface SigningKeyRow {
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  activates_at: number;
  retired_at: number | null;
  expires_at: number | null;
}

export type KeyRepository = ReturnType<typeof createKeyRepository>;

export function createKeyRepository(db: Db) {
  const live = db.prepare(
    'SELECT * FROM signing_keys WHERE expires_at IS NULL OR expires_at > ? ORDER BY activates_at DESC, rowid DESC',
  );
  const insert = db.prepare(
    'INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, activates_at, retired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)',
  );
  const retireAll = db.prepare(
    'UPDATE signing_keys SET retired_at = @at, expires_at = @expires WHERE retired_at IS NULL OR retired_at > @at',
  );
  const purge = db.prepare('DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at <= ?');

  return {
    live(now: number): SigningKeyRow[] {
      return live.all(now) as SigningKeyRow[];
    },
    /**
     * Adds a key that signs from `activatesAt`. Every key still in service retires then, and stays
     * published until `retiredKeyExpiresAt` (the last token it could have signed has expired).
     */
    add(row: Omit<SigningKeyRow, 'retired_at' | 'expires_at'>, retiredKeyExpiresAt: number): void {
      db.transaction(() => {
        retireAll.run({ at: row.activates_at, expires: retiredKeyExpiresAt });
        insert.run(row.kid, row.alg, row.private_jwk, row.public_jwk, row.created_at, row.activates_at);
      })();
    },
    purgeExpired(now: number): number {
      return purge.run(now).changes;
    },
  };
}
