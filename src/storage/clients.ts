// Registered OAuth clients (agents) as oidc-provider stores them: rows of oidc_models with
// model = 'Client', the metadata as the JSON payload.
import type { Sql } from './engine.js';

export type ClientMetadata = Record<string, unknown> & { client_id: string };

export interface StoredClient {
  clientId: string;
  metadata: ClientMetadata;
  createdAt: number;
}

/** Rows of other models that belong to a client, by model name (Grant, RefreshToken, ...). */
export type RelatedCounts = Record<string, number>;

interface ClientRow {
  id: string;
  payload: string;
  created_at: number;
}

interface CountRow {
  model: string;
  n: number;
}

function toClient(row: ClientRow): StoredClient {
  const parsed = JSON.parse(row.payload) as Record<string, unknown>;
  return { clientId: row.id, metadata: { ...parsed, client_id: row.id }, createdAt: row.created_at };
}

export type ClientRepository = ReturnType<typeof createClientRepository>;

const BY_ID = "SELECT id, payload, created_at FROM oidc_models WHERE model = 'Client' AND id = ?";
const RELATED =
  "SELECT model, COUNT(*) AS n FROM oidc_models WHERE client_id = ? AND model <> 'Client' GROUP BY model ORDER BY model";
const REMOVE_CLIENT = "DELETE FROM oidc_models WHERE model = 'Client' AND id = ?";
const REMOVE_RELATED = "DELETE FROM oidc_models WHERE client_id = ? AND model <> 'Client'";

// Never completed an authorization: no grant was ever recorded for it and no token issued to it.
const UNUSED = `o.model = 'Client'
  AND NOT EXISTS (SELECT 1 FROM grant_records g WHERE g.client_id = o.id)
  AND NOT EXISTS (SELECT 1 FROM client_state s WHERE s.client_id = o.id AND (s.first_used_at IS NOT NULL OR s.disabled_at IS NOT NULL))
  AND NOT EXISTS (SELECT 1 FROM service_clients c WHERE c.client_id = o.id)`;
// Newest first and stopping at the cap: a registration costs a walk over the clients registered
// since the cleanup cut-off, and no more than `limit` unused ones, however many agents exist.
const COUNT_UNUSED = `SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM oidc_models o WHERE ${UNUSED} AND o.created_at > ?
  ORDER BY o.created_at DESC LIMIT ?) AS recent`;
const STALE_UNUSED = `SELECT o.id FROM oidc_models o WHERE ${UNUSED} AND o.created_at <= ?`;
const FORGET_STATE = 'DELETE FROM client_state WHERE client_id = ? AND disabled_at IS NULL';

export function createClientRepository(sql: Sql) {
  // Oldest first; registrations made in the same second keep the order they were made in: SQLite's
  // rowid records it, PostgreSQL (no rowid) falls back to the id.
  const all = `SELECT id, payload, created_at FROM oidc_models WHERE model = 'Client' ORDER BY created_at, ${sql.kind === 'sqlite' ? 'rowid' : 'id'}`;

  const countRelated = async (clientId: string): Promise<RelatedCounts> =>
    Object.fromEntries((await sql.all<CountRow>(RELATED, [clientId])).map((r) => [r.model, r.n]));

  return {
    async list(): Promise<StoredClient[]> {
      return (await sql.all<ClientRow>(all)).map(toClient);
    },
    async find(clientId: string): Promise<StoredClient | undefined> {
      const row = await sql.get<ClientRow>(BY_ID, [clientId]);
      return row && toClient(row);
    },
    related: countRelated,
    /**
     * Registrations made after `since` (unix seconds) that never completed an authorization, counted
     * up to `limit` (the cap on these stops floods; older ones are the cleanup's).
     */
    async countUnused(since: number, limit: number): Promise<number> {
      return (await sql.get<{ n: number }>(COUNT_UNUSED, [since, limit]))?.n ?? 0;
    },
    /**
     * Deletes registrations that never completed an authorization and are older than `ttl` seconds,
     * with whatever is attached to them (interactions, sessions' references). Returns how many.
     */
    async purgeUnused(now: number, ttl: number): Promise<number> {
      return sql.transaction(async () => {
        const ids = (await sql.all<{ id: string }>(STALE_UNUSED, [now - ttl])).map((r) => r.id);
        for (const id of ids) {
          await sql.run(REMOVE_CLIENT, [id]);
          await sql.run(REMOVE_RELATED, [id]);
          await sql.run(FORGET_STATE, [id]);
        }
        return ids.length;
      });
    },
    /**
     * Deletes the client and every grant, code and token issued to it, all or nothing. Returns what
     * was deleted besides the client, or undefined when there is no such client.
     */
    async delete(clientId: string): Promise<RelatedCounts | undefined> {
      return sql.transaction(async () => {
        const counts = await countRelated(clientId);
        if ((await sql.run(REMOVE_CLIENT, [clientId])).changes === 0) return undefined;
        await sql.run(REMOVE_RELATED, [clientId]);
        return counts;
      });
    },
  };
}
