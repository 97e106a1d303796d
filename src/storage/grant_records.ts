// Grants as users and admins see them: who, which agent, which MCP server, which scopes, since
// when, last used, and whether and by whom revoked. oidc-provider's own Grant row is deleted on
// revocation; this record stays.
import { LAST_USED_RESOLUTION } from './client_state.js';
import type { Sql, SqlValue } from './engine.js';

export interface GrantRecord {
  id: string;
  accountId: string;
  clientId: string;
  resource: string;
  scopes: string[];
  obtainedVia: string;
  createdAt: number;
  updatedAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  revokedBy: string | null;
  revokeReason: string | null;
}

export interface GrantFilter {
  accountId?: string | undefined;
  clientId?: string | undefined;
  resource?: string | undefined;
  state?: 'active' | 'revoked' | 'all' | undefined;
  limit?: number | undefined;
  /** Rows to skip first, in the list's order (the admin lists' pages). */
  offset?: number | undefined;
}

interface Row {
  id: string;
  account_id: string;
  client_id: string;
  resource: string;
  scopes: string;
  obtained_via: string;
  created_at: number;
  updated_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  revoked_by: string | null;
  revoke_reason: string | null;
}

const toRecord = (r: Row): GrantRecord => ({
  id: r.id,
  accountId: r.account_id,
  clientId: r.client_id,
  resource: r.resource,
  scopes: r.scopes ? r.scopes.split(' ') : [],
  obtainedVia: r.obtained_via,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
  revokedBy: r.revoked_by,
  revokeReason: r.revoke_reason,
});

export type GrantRecordRepository = ReturnType<typeof createGrantRecordRepository>;

const UPSERT = `
  INSERT INTO grant_records (id, account_id, client_id, resource, scopes, obtained_via, created_at, updated_at)
  VALUES (@id, @account_id, @client_id, @resource, @scopes, @obtained_via, @now, @now)
  ON CONFLICT (id) DO UPDATE SET scopes = excluded.scopes, resource = excluded.resource, updated_at = excluded.updated_at`;
// Kept to the minute, like an agent's (client_state.ts): a value already within the last
// LAST_USED_RESOLUTION seconds is not rewritten on every refresh.
const TOUCH = `UPDATE grant_records SET last_used_at = @now
  WHERE id = @id AND revoked_at IS NULL
    AND (last_used_at IS NULL OR last_used_at NOT BETWEEN @now - ${LAST_USED_RESOLUTION} AND @now)`;
const BY_ID = 'SELECT * FROM grant_records WHERE id = ?';

export function createGrantRecordRepository(sql: Sql) {
  return {
    /** Records a grant created or widened at consent. */
    async saved(
      g: { id: string; accountId: string; clientId: string; resource: string; scopes: string[]; obtainedVia: string },
      now: number,
    ): Promise<void> {
      await sql.run(UPSERT, {
        id: g.id,
        account_id: g.accountId,
        client_id: g.clientId,
        resource: g.resource,
        scopes: g.scopes.join(' '),
        obtained_via: g.obtainedVia,
        now,
      });
    },
    /**
     * A token was issued from the grant: marks it used at `now` (to within LAST_USED_RESOLUTION
     * seconds); true when that changed the row.
     */
    async used(id: string, now: number): Promise<boolean> {
      return (await sql.run(TOUCH, { now, id })).changes > 0;
    },
    async find(id: string): Promise<GrantRecord | undefined> {
      const row = await sql.get<Row>(BY_ID, [id]);
      return row && toRecord(row);
    },
    async list(filter: GrantFilter = {}): Promise<GrantRecord[]> {
      const where: string[] = [];
      const args: Record<string, SqlValue> = {};
      if (filter.accountId) {
        where.push('account_id = @account');
        args.account = filter.accountId;
      }
      if (filter.clientId) {
        where.push('client_id = @client');
        args.client = filter.clientId;
      }
      if (filter.resource) {
        where.push('resource = @resource');
        args.resource = filter.resource;
      }
      if (filter.state === 'active' || filter.state === undefined) where.push('revoked_at IS NULL');
      if (filter.state === 'revoked') where.push('revoked_at IS NOT NULL');
      args.limit = Math.min(Math.max(filter.limit ?? 500, 1), 5000);
      args.offset = Math.max(Math.trunc(filter.offset ?? 0), 0);
      const text = `SELECT * FROM grant_records ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT @limit OFFSET @offset`;
      return (await sql.all<Row>(text, args)).map(toRecord);
    },
  };
}
