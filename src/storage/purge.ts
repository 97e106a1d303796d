import type { Db } from './db.js';

export interface PurgeResult {
  oidcRows: number;
  signingKeys: number;
  webSessions: number;
}

/**
 * Deletes expired provider rows (codes, tokens, sessions, interactions, grants) and signing keys no
 * token can still need. Rows without an expiry (dynamically registered clients) are kept.
 */
export function purgeExpired(db: Db, now: number): PurgeResult {
  return db.transaction(() => {
    const oidcRows = db
      .prepare('DELETE FROM oidc_models WHERE expires_at IS NOT NULL AND expires_at <= ?')
      .run(now).changes;
    const signingKeys = db
      .prepare('DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at <= ?')
      .run(now).changes;
    const webSessions = db.prepare('DELETE FROM web_sessions WHERE expires_at <= ?').run(now).changes;
    return { oidcRows, signingKeys, webSessions };
  })();
}
