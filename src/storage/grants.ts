import type { Sql } from './engine.js';

export type GrantIndex = ReturnType<typeof createGrantIndex>;

const LATEST = `SELECT id FROM oidc_models WHERE model = 'Grant' AND account_id = ? AND client_id = ?
  AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC LIMIT 1`;

/** Lookups on the Grant rows oidc-provider keeps in oidc_models (it has none by account or client). */
export function createGrantIndex(sql: Sql) {
  return {
    async latestFor(accountId: string, clientId: string, now: number): Promise<string | undefined> {
      return (await sql.get<{ id: string }>(LATEST, [accountId, clientId, now]))?.id;
    },
  };
}
