import { createClientStateRepository, createRegistrationTokenRepository } from './client_state.js';
import { createClientRepository } from './clients.js';
import type { Sql } from './engine.js';
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
export async function purgeExpired(
  sql: Sql,
  now: number,
  opts: { unusedClientTtl?: number } = {},
): Promise<PurgeResult> {
  return sql.transaction(async () => {
    const oidcRows = (await sql.run('DELETE FROM oidc_models WHERE expires_at IS NOT NULL AND expires_at <= ?', [now]))
      .changes;
    const signingKeys = (
      await sql.run('DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at <= ?', [now])
    ).changes;
    const webSessions = (await sql.run('DELETE FROM web_sessions WHERE expires_at <= ?', [now])).changes;
    // Dynamically registered clients never expire on their own. Agents that register anew on every
    // connection leave dead ones; those never used are deleted here
    // (docs/pitfalls.md#registrations-that-never-expire).
    const unusedClients =
      (await createClientRepository(sql).purgeUnused(now, opts.unusedClientTtl ?? DAY)) +
      (await createClientStateRepository(sql).purgeUnusedDocuments());
    const registrationTokens = await createRegistrationTokenRepository(sql).purge(now);
    // A grant's refresh-token family goes with its last provider row; the console shows 30 days of it.
    await createRefreshFamilyRepository(sql).purgeOrphans(now - 30 * DAY);
    return { oidcRows, signingKeys, webSessions, unusedClients, registrationTokens };
  });
}
