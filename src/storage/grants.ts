import type { Db } from './db.js';

export type GrantIndex = ReturnType<typeof createGrantIndex>;

/** Lookups on the Grant rows oidc-provider keeps in oidc_models (it has none by account or client). */
export function createGrantIndex(db: Db) {
  const latest = db.prepare(
    `SELECT id FROM oidc_models WHERE model = 'Grant' AND account_id = ? AND client_id = ?
       AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC LIMIT 1`,
  );
  return {
    latestFor(accountId: string, clientId: string, now: number): string | undefined {
      return (latest.get(accountId, clientId, now) as { id: string } | undefined)?.id;
    },
  };
}
