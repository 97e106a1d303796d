import { oneNodeAtATime } from './cluster_lock.js';
import type { Sql } from './engine.js';

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

/**
 * Notified at the commit of every change to the key set, so every server on the database (every
 * node of a cluster; on SQLite, the server when this process writes) re-reads it at once instead
 * of at its next periodic check.
 */
export const KEYS_CHANNEL = 'signing_keys';

// `seq` numbers keys in the order they were added (migrations/0093_signing_key_order.sql). Every
// insert follows the update that retires the keys in service, in one transaction: a rotation on
// another node at the same moment waits for those rows, then numbers its key after this one.
const INSERT = `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, activates_at, retired_at, expires_at, seq)
  VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, (SELECT COALESCE(MAX(seq), 0) + 1 FROM signing_keys))`;
// Newest first; of keys activating in the same second, the one added last.
const LIVE =
  'SELECT * FROM signing_keys WHERE expires_at IS NULL OR expires_at > ? ORDER BY activates_at DESC, seq DESC';
const RETIRE_ALL =
  'UPDATE signing_keys SET retired_at = @at, expires_at = @expires WHERE retired_at IS NULL OR retired_at > @at';
const PURGE = 'DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at <= ?';

export function createKeyRepository(sql: Sql) {
  const insert = async (row: Omit<SigningKeyRow, 'retired_at' | 'expires_at'>, retiredKeyExpiresAt: number) => {
    await sql.run(RETIRE_ALL, { at: row.activates_at, expires: retiredKeyExpiresAt });
    await sql.run(INSERT, [row.kid, row.alg, row.private_jwk, row.public_jwk, row.created_at, row.activates_at]);
    await sql.notify(KEYS_CHANNEL);
  };
  return {
    async live(now: number): Promise<SigningKeyRow[]> {
      return sql.all<SigningKeyRow>(LIVE, [now]);
    },
    /**
     * Adds a key that signs from `activatesAt`. Every key still in service retires then, and stays
     * published until `retiredKeyExpiresAt` (the last token it could have signed has expired).
     */
    async add(row: Omit<SigningKeyRow, 'retired_at' | 'expires_at'>, retiredKeyExpiresAt: number): Promise<void> {
      await sql.transaction(() => insert(row, retiredKeyExpiresAt));
    },
    /**
     * Adds `row` only if no key is in service at its creation time; false when one is. Nodes that
     * start together each try: one at a time, so the first makes the key and the others find it.
     */
    async addFirst(row: Omit<SigningKeyRow, 'retired_at' | 'expires_at'>): Promise<boolean> {
      return oneNodeAtATime(sql, 'signingKeys', async () => {
        if ((await sql.all<SigningKeyRow>(LIVE, [row.created_at])).length > 0) return false;
        await insert(row, row.created_at);
        return true;
      });
    },
    async purgeExpired(now: number): Promise<number> {
      return (await sql.run(PURGE, [now])).changes;
    },
  };
}
