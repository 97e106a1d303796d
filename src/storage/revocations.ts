// Revoking grants, agents and users, and the feed that tells resource servers about it. Every
// revocation is one transaction: the provider's rows for the grant (refresh tokens, codes,
// the Grant itself) are deleted, the grant record is marked, and the feed entry is written, so a
// revocation the admin has seen survives a crash and is never half done.
import type { Sql } from './engine.js';

export type RevocationKind = 'grant' | 'user' | 'client';

export interface FeedEntry {
  seq: number;
  kind: RevocationKind;
  subject: string;
  before: number;
  expiresAt: number;
}

interface FeedRow {
  seq: number;
  kind: RevocationKind;
  subject: string;
  before: number;
  expires_at: number;
}

/** Who revoked: 'user:<id>', 'admin:<id>', 'cli', 'system:<reason>'. */
export type Actor = string;

/** Clock skew a resource server may allow when comparing a token's iat with `before`. */
export const FEED_LEEWAY_SECONDS = 60;

/**
 * The settings row with the longest access-token lifetime the server has ever signed with. A feed
 * entry must outlive every token issued before it, and the process that revokes (an admin's shell
 * running the CLI) may have another MCP_OAUTH_ACCESS_TOKEN_TTL than the server that signed, or the
 * server may since have been restarted with a shorter one.
 */
export const SIGNED_TTL_SETTING = 'max_access_token_ttl';

export type RevocationService = ReturnType<typeof createRevocationService>;

/**
 * Notified at the commit of every new feed entry, so the feed hub of every server on the database
 * (each node of a cluster) sends it to its streams at once (src/app/revocation_feed.ts).
 */
export const REVOCATIONS_CHANNEL = 'revocations';

const SIGNED_TTL = 'SELECT value FROM settings WHERE name = ?';
// Raise-only: a restart with a shorter lifetime must not shorten entries for tokens already out.
const RAISE_SIGNED_TTL = `INSERT INTO settings (name, value) VALUES (@name, @ttl)
  ON CONFLICT (name) DO UPDATE SET value = excluded.value
  WHERE CAST(excluded.value AS INTEGER) > CAST(settings.value AS INTEGER)`;
const DELETE_SESSIONS = "DELETE FROM oidc_models WHERE model = 'Session' AND account_id = ?";
const DELETE_WEB_SESSIONS = 'DELETE FROM web_sessions WHERE user_id = ?';
const DELETE_PROVIDER_ROWS = "DELETE FROM oidc_models WHERE grant_id = @id OR (model = 'Grant' AND id = @id)";
const MARK_RECORD =
  'UPDATE grant_records SET revoked_at = @now, revoked_by = @by, revoke_reason = @reason WHERE id = @id AND revoked_at IS NULL';
const INSERT_ENTRY =
  'INSERT INTO revocations (kind, subject, before, created_at, expires_at) VALUES (@kind, @subject, @now, @now, @expires)';
const GRANT_IDS_OF = `SELECT id FROM grant_records WHERE revoked_at IS NULL AND account_id = COALESCE(@account, account_id)
    AND client_id = COALESCE(@client, client_id)
  UNION SELECT id FROM oidc_models WHERE model = 'Grant' AND account_id = COALESCE(@account, account_id)
    AND client_id = COALESCE(@client, client_id)`;
const FEED_AFTER =
  'SELECT seq, kind, subject, before, expires_at FROM revocations WHERE seq > ? AND expires_at > ? ORDER BY seq LIMIT ?';
const LATEST = 'SELECT COALESCE(MAX(seq), 0) AS seq FROM revocations';
const CLIENT_CUTOFF =
  "SELECT MAX(before) AS cutoff FROM revocations WHERE kind = 'client' AND subject = ? AND expires_at > ?";
const PURGE = 'DELETE FROM revocations WHERE expires_at <= ?';
const SET_CLIENT_DISABLED = `
  INSERT INTO client_state (client_id, registered_via, disabled_at, disabled_by) VALUES (@client, 'unknown', @now, @by)
  ON CONFLICT (client_id) DO UPDATE SET disabled_at = @now, disabled_by = @by`;
const SET_CLIENT_ENABLED = 'UPDATE client_state SET disabled_at = NULL, disabled_by = NULL WHERE client_id = ?';
const SET_USER_DISABLED = 'UPDATE users SET disabled = @disabled, updated_at = @now WHERE id = @id';

/** `accessTokenTtl`: this process's own setting; entries last at least that long (plus the leeway). */
export function createRevocationService(sql: Sql, opts: { accessTokenTtl: number }) {
  const storedTtl = async (): Promise<number> => {
    const n = Number((await sql.get<{ value: string }>(SIGNED_TTL, [SIGNED_TTL_SETTING]))?.value);
    return Number.isSafeInteger(n) && n > 0 ? n : 0;
  };
  const entryTtl = async () => Math.max(opts.accessTokenTtl, await storedTtl()) + FEED_LEEWAY_SECONDS;
  // An interaction started by a session of the user (login done, consent pending) goes with it.
  const deleteInteractions = `DELETE FROM oidc_models WHERE model = 'Interaction' AND ${sql.dialect.jsonText(
    sql.dialect.jsonText('payload', 'session'),
    'accountId',
  )} = ?`;

  const entry = async (kind: RevocationKind, subject: string, now: number) => {
    await sql.run(INSERT_ENTRY, { kind, subject, now, expires: now + (await entryTtl()) });
    await sql.notify(REVOCATIONS_CHANNEL);
  };

  const revokeOne = async (id: string, by: Actor, reason: string, now: number, withEntry: boolean) => {
    const rows = (await sql.run(DELETE_PROVIDER_ROWS, { id })).changes;
    const marked = (await sql.run(MARK_RECORD, { id, now, by, reason })).changes;
    if (withEntry && (rows > 0 || marked > 0)) await entry('grant', id, now);
    return rows > 0 || marked > 0;
  };

  const revokeMany = async (
    account: string | null,
    client: string | null,
    by: Actor,
    reason: string,
    now: number,
  ): Promise<string[]> => {
    const ids = (await sql.all<{ id: string }>(GRANT_IDS_OF, { account, client })).map((r) => r.id);
    for (const id of ids) await revokeOne(id, by, reason, now, false);
    return ids;
  };

  return {
    /** Revokes one grant. Returns false when there was nothing to revoke. */
    async revokeGrant(id: string, by: Actor, now: number, reason = 'revoked'): Promise<boolean> {
      return sql.transaction(() => revokeOne(id, by, reason, now, true));
    },
    /** Records a revocation oidc-provider already carried out (code replay, refresh-token reuse). */
    async providerRevokedGrant(id: string, reason: string, now: number): Promise<void> {
      await sql.transaction(() => revokeOne(id, `system:${reason}`, reason, now, true));
    },
    /** Every grant of a user (optionally only to one agent); tokens issued until now are dead. */
    async revokeUserGrants(accountId: string, clientId: string | null, by: Actor, now: number): Promise<string[]> {
      return sql.transaction(async () => {
        const ids = await revokeMany(accountId, clientId, by, 'revoked', now);
        if (clientId) for (const id of ids) await entry('grant', id, now);
        else await entry('user', accountId, now);
        return ids;
      });
    },
    /** Every grant of an agent; tokens it holds until now are dead. */
    async revokeClientGrants(clientId: string, by: Actor, now: number, reason = 'revoked'): Promise<string[]> {
      return sql.transaction(async () => {
        const ids = await revokeMany(null, clientId, by, reason, now);
        await entry('client', clientId, now);
        return ids;
      });
    },
    /** The agent can no longer get grants or tokens; all it holds is revoked. */
    async disableClient(clientId: string, by: Actor, now: number): Promise<string[]> {
      return sql.transaction(async () => {
        await sql.run(SET_CLIENT_DISABLED, { client: clientId, now, by });
        const ids = await revokeMany(null, clientId, by, 'agent disabled', now);
        await entry('client', clientId, now);
        return ids;
      });
    },
    /**
     * The agent's access tokens issued until now are dead at resource servers; its grants stay. A
     * narrowed policy uses it: the feed can only revoke, so the agent refreshes and gets a token
     * within the new policy (docs/operating.md#per-agent-policy).
     */
    async cutClientTokens(clientId: string, now: number): Promise<void> {
      await entry('client', clientId, now);
    },
    /**
     * The user's access tokens issued until now are dead at resource servers; their grants stay. A
     * group policy narrows per user (src/grants/groups.ts): the feed can only revoke, so the agents
     * refresh and get tokens within the new policy. (A `grant` entry would end the grant's tokens for
     * good, including the refreshed ones: docs/revocation-feed.md.)
     */
    async cutUserTokens(userId: string, now: number): Promise<void> {
      await entry('user', userId, now);
    },
    async enableClient(clientId: string): Promise<boolean> {
      return (await sql.run(SET_CLIENT_ENABLED, [clientId])).changes > 0;
    },
    /** The user can no longer sign in; every grant and token of theirs is revoked. */
    async disableUser(userId: string, by: Actor, now: number): Promise<string[]> {
      return sql.transaction(async () => {
        await sql.run(SET_USER_DISABLED, { id: userId, disabled: 1, now });
        const ids = await revokeMany(userId, null, by, 'user disabled', now);
        await entry('user', userId, now);
        return ids;
      });
    },
    async enableUser(userId: string, now: number): Promise<void> {
      await sql.run(SET_USER_DISABLED, { id: userId, disabled: 0, now });
    },
    /**
     * Ends every browser session of the user: oidc-provider's (sign-in at /authorize, whose cookie
     * would otherwise lead straight to consent) and the account and console pages'. The caller's
     * transaction holds it together with the change that makes the sessions stale.
     */
    async endSessions(userId: string): Promise<{ provider: number; pages: number }> {
      const provider = (await sql.run(DELETE_SESSIONS, [userId])).changes;
      await sql.run(deleteInteractions, [userId]);
      return { provider, pages: (await sql.run(DELETE_WEB_SESSIONS, [userId])).changes };
    },
    /** Called by the server before it signs anything: raises the recorded lifetime to `ttl`. */
    async noteSigningTtl(ttl: number): Promise<void> {
      await sql.run(RAISE_SIGNED_TTL, { name: SIGNED_TTL_SETTING, ttl: String(ttl) });
    },
    /** Seconds a new feed entry lasts. */
    entryLifetime(): Promise<number> {
      return entryTtl();
    },
    async feedAfter(seq: number, now: number, limit = 500): Promise<FeedEntry[]> {
      return (await sql.all<FeedRow>(FEED_AFTER, [seq, now, limit])).map((r) => ({
        seq: r.seq,
        kind: r.kind,
        subject: r.subject,
        before: r.before,
        expiresAt: r.expires_at,
      }));
    },
    /**
     * The latest `before` of the agent's live client entries: its tokens issued at or before it are
     * dead (a grantless service-client token has nothing else to be revoked by).
     */
    async clientRevokedBefore(clientId: string, now: number): Promise<number | undefined> {
      const before = (await sql.get<{ cutoff: number | null }>(CLIENT_CUTOFF, [clientId, now]))?.cutoff;
      return typeof before === 'number' ? before : undefined;
    },
    /** Calls `onEntry` after every commit that added feed entries; the returned function stops it. */
    onNewEntries(onEntry: () => void): Promise<() => Promise<void>> {
      return sql.listen(REVOCATIONS_CHANNEL, onEntry);
    },
    async latestSeq(): Promise<number> {
      return (await sql.get<{ seq: number }>(LATEST))?.seq ?? 0;
    },
    async purgeExpired(now: number): Promise<number> {
      return (await sql.run(PURGE, [now])).changes;
    },
  };
}
