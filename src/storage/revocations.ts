// Revoking grants, agents and users, and the feed that tells resource servers about it. Every
// revocation is one SQLite transaction: the provider's rows for the grant (refresh tokens, codes,
// the Grant itself) are deleted, the grant record is marked, and the feed entry is written, so a
// revocation the admin has seen survives a crash and is never half done.
import type { Db } from './db.js';

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

/** `accessTokenTtl`: this process's own setting; entries last at least that long (plus the leeway). */
export function createRevocationService(db: Db, opts: { accessTokenTtl: number }) {
  const signedTtl = db.prepare('SELECT value FROM settings WHERE name = ?').pluck();
  // Raise-only: a restart with a shorter lifetime must not shorten entries for tokens already out.
  const raiseSignedTtl = db.prepare(`INSERT INTO settings (name, value) VALUES (@name, @ttl)
    ON CONFLICT (name) DO UPDATE SET value = excluded.value
    WHERE CAST(excluded.value AS INTEGER) > CAST(settings.value AS INTEGER)`);
  const storedTtl = (): number => {
    const n = Number(signedTtl.get(SIGNED_TTL_SETTING));
    return Number.isSafeInteger(n) && n > 0 ? n : 0;
  };
  const entryTtl = () => Math.max(opts.accessTokenTtl, storedTtl()) + FEED_LEEWAY_SECONDS;
  const deleteSessions = db.prepare("DELETE FROM oidc_models WHERE model = 'Session' AND account_id = ?");
  // An interaction started by a session of the user (login done, consent pending) goes with it.
  const deleteInteractions = db.prepare(
    "DELETE FROM oidc_models WHERE model = 'Interaction' AND json_extract(payload, '$.session.accountId') = ?",
  );
  const deleteWebSessions = db.prepare('DELETE FROM web_sessions WHERE user_id = ?');
  const deleteProviderRows = db.prepare(
    "DELETE FROM oidc_models WHERE grant_id = @id OR (model = 'Grant' AND id = @id)",
  );
  const markRecord = db.prepare(
    'UPDATE grant_records SET revoked_at = @now, revoked_by = @by, revoke_reason = @reason WHERE id = @id AND revoked_at IS NULL',
  );
  const insertEntry = db.prepare(
    'INSERT INTO revocations (kind, subject, before, created_at, expires_at) VALUES (@kind, @subject, @now, @now, @expires)',
  );
  const grantIdsOf = db.prepare(
    `SELECT id FROM grant_records WHERE revoked_at IS NULL AND account_id = COALESCE(@account, account_id)
       AND client_id = COALESCE(@client, client_id)
     UNION SELECT id FROM oidc_models WHERE model = 'Grant' AND account_id = COALESCE(@account, account_id)
       AND client_id = COALESCE(@client, client_id)`,
  );
  const feedAfter = db.prepare(
    'SELECT seq, kind, subject, before, expires_at FROM revocations WHERE seq > ? AND expires_at > ? ORDER BY seq LIMIT ?',
  );
  const latest = db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM revocations');
  const clientCutoff = db
    .prepare("SELECT MAX(before) FROM revocations WHERE kind = 'client' AND subject = ? AND expires_at > ?")
    .pluck();
  const purge = db.prepare('DELETE FROM revocations WHERE expires_at <= ?');
  const setClientDisabled = db.prepare(`
    INSERT INTO client_state (client_id, registered_via, disabled_at, disabled_by) VALUES (@client, 'unknown', @now, @by)
    ON CONFLICT (client_id) DO UPDATE SET disabled_at = @now, disabled_by = @by`);
  const setClientEnabled = db.prepare(
    'UPDATE client_state SET disabled_at = NULL, disabled_by = NULL WHERE client_id = ?',
  );
  const setUserDisabled = db.prepare('UPDATE users SET disabled = @disabled, updated_at = @now WHERE id = @id');

  const entry = (kind: RevocationKind, subject: string, now: number) => {
    insertEntry.run({ kind, subject, now, expires: now + entryTtl() });
  };

  const revokeOne = (id: string, by: Actor, reason: string, now: number, withEntry: boolean): boolean => {
    const rows = deleteProviderRows.run({ id }).changes;
    const marked = markRecord.run({ id, now, by, reason }).changes;
    if (withEntry && (rows > 0 || marked > 0)) entry('grant', id, now);
    return rows > 0 || marked > 0;
  };

  const revokeMany = (
    account: string | null,
    client: string | null,
    by: Actor,
    reason: string,
    now: number,
  ): string[] => {
    const ids = (grantIdsOf.all({ account, client }) as { id: string }[]).map((r) => r.id);
    for (const id of ids) revokeOne(id, by, reason, now, false);
    return ids;
  };

  return {
    /** Revokes one grant. Returns false when there was nothing to revoke. */
    revokeGrant(id: string, by: Actor, now: number, reason = 'revoked'): boolean {
      return db.transaction(() => revokeOne(id, by, reason, now, true))();
    },
    /** Records a revocation oidc-provider already carried out (code replay, refresh-token reuse). */
    providerRevokedGrant(id: string, reason: string, now: number): void {
      db.transaction(() => revokeOne(id, `system:${reason}`, reason, now, true))();
    },
    /** Every grant of a user (optionally only to one agent); tokens issued until now are dead. */
    revokeUserGrants(accountId: string, clientId: string | null, by: Actor, now: number): string[] {
      return db.transaction(() => {
        const ids = revokeMany(accountId, clientId, by, 'revoked', now);
        if (clientId) for (const id of ids) entry('grant', id, now);
        else entry('user', accountId, now);
        return ids;
      })();
    },
    /** Every grant of an agent; tokens it holds until now are dead. */
    revokeClientGrants(clientId: string, by: Actor, now: number, reason = 'revoked'): string[] {
      return db.transaction(() => {
        const ids = revokeMany(null, clientId, by, reason, now);
        entry('client', clientId, now);
        return ids;
      })();
    },
    /** The agent can no longer get grants or tokens; all it holds is revoked. */
    disableClient(clientId: string, by: Actor, now: number): string[] {
      return db.transaction(() => {
        setClientDisabled.run({ client: clientId, now, by });
        const ids = revokeMany(null, clientId, by, 'agent disabled', now);
        entry('client', clientId, now);
        return ids;
      })();
    },
    /**
     * The agent's access tokens issued until now are dead at resource servers; its grants stay. A
     * narrowed policy uses it: the feed can only revoke, so the agent refreshes and gets a token
     * within the new policy (docs/operating.md#per-agent-policy).
     */
    cutClientTokens(clientId: string, now: number): void {
      entry('client', clientId, now);
    },
    enableClient(clientId: string): boolean {
      return setClientEnabled.run(clientId).changes > 0;
    },
    /** The user can no longer sign in; every grant and token of theirs is revoked. */
    disableUser(userId: string, by: Actor, now: number): string[] {
      return db.transaction(() => {
        setUserDisabled.run({ id: userId, disabled: 1, now });
        const ids = revokeMany(userId, null, by, 'user disabled', now);
        entry('user', userId, now);
        return ids;
      })();
    },
    enableUser(userId: string, now: number): void {
      setUserDisabled.run({ id: userId, disabled: 0, now });
    },
    /**
     * Ends every browser session of the user: oidc-provider's (sign-in at /authorize, whose cookie
     * would otherwise lead straight to consent) and the account and console pages'. The caller's
     * transaction holds it together with the change that makes the sessions stale.
     */
    endSessions(userId: string): { provider: number; pages: number } {
      const provider = deleteSessions.run(userId).changes;
      deleteInteractions.run(userId);
      return { provider, pages: deleteWebSessions.run(userId).changes };
    },
    /** Called by the server before it signs anything: raises the recorded lifetime to `ttl`. */
    noteSigningTtl(ttl: number): void {
      raiseSignedTtl.run({ name: SIGNED_TTL_SETTING, ttl: String(ttl) });
    },
    /** Seconds a new feed entry lasts. */
    entryLifetime(): number {
      return entryTtl();
    },
    feedAfter(seq: number, now: number, limit = 500): FeedEntry[] {
      return (feedAfter.all(seq, now, limit) as FeedRow[]).map((r) => ({
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
    clientRevokedBefore(clientId: string, now: number): number | undefined {
      const before = clientCutoff.get(clientId, now);
      return typeof before === 'number' ? before : undefined;
    },
    latestSeq(): number {
      return (latest.get() as { seq: number }).seq;
    },
    purgeExpired(now: number): number {
      return purge.run(now).changes;
    },
  };
}
