import { createClientStateRepository, createRegistrationTokenRepository } from './client_state.js';
import { createClientRepository } from './clients.js';
import type { Db } from './db.js';
import { createRefreshFamilyRepository } from './refresh_family.js';

export interface PurgeResult {
  oidcRows: number;
  signingKeys: number;
  webSessions: number;
  /**
   * Registrations that never completed an authorization within MCP_OAUTH_UNUSED_CLIENT_TTL, and
   * metadata-document agents recorded without ever getting a grant.
   */
  unusedClients: number;
  registrationTokens: number;
}

const DAY = 86400;

/**
 * Deletes expired provider rows (codes, tokens, sessions, interactions, grants) and signing keys no
 * token can still need. Rows without an expiry (dynamically registered clients) are kept, except registrations that never
 * completed an authorization and are older than `unusedClientTtl` (default 24 hours).
 */
export function purgeExpired(db: Db, now: number, opts: { unusedClientTtl?: number } = {}): PurgeResult {
  return db.transaction(() => {
    const oidcRows = db
      .prepare('DELETE FROM oidc_models WHERE expires_at IS NOT NULL AND expires_at <= ?')
      .run(now).changes;
    const signingKeys = db
      .prepare('DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at <= ?')
      .run(now).changes;
    const webSessions = db.prepare('DELETE FROM web_sessions WHERE expires_at <= ?').run(now).changes;
    // Dynamically registered clients never expire on their own. Agents that register anew on every
    // connection leave dead ones; those never used are deleted here
    // (docs/pitfalls.md#registrations-that-never-expire).
    const unusedClients =
      createClientRepository(db).purgeUnused(now, opts.unusedClientTtl ?? DAY) +
      createClientStateRepository(db).purgeUnusedDocuments();
    const registrationTokens = createRegistrationTokenRepository(db).purge(now);
    // A grant's refresh-token family goes with its last provider row; the console shows 30 days of it.
    createRefreshFamilyRepository(db).purgeOrphans(now - 30 * DAY);
    return { oidcRows, signingKeys, webSessions, unusedClients, registrationTokens };
  })();
}
