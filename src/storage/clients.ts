// Registered OAuth clients (agents) as oidc-provider stores them: rows of oidc_models with
// model = 'Client', the metadata as the JSON payload.
import type { Db } from './db.js';

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

export function createClientRepository(db: Db) {
  const all = db.prepare(
    // Oldest first; rowid keeps registrations made in the same second in the order they were made.
    "SELECT id, payload, created_at FROM oidc_models WHERE model = 'Client' ORDER BY created_at, rowid",
  );
  const byId = db.prepare("SELECT id, payload, created_at FROM oidc_models WHERE model = 'Client' AND id = ?");
  const related = db.prepare(
    "SELECT model, count(*) AS n FROM oidc_models WHERE client_id = ? AND model <> 'Client' GROUP BY model ORDER BY model",
  );
  const removeClient = db.prepare("DELETE FROM oidc_models WHERE model = 'Client' AND id = ?");
  const removeRelated = db.prepare("DELETE FROM oidc_models WHERE client_id = ? AND model <> 'Client'");

  // Never completed an authorization: no grant was ever recorded for it and no token issued to it.
  const UNUSED = `o.model = 'Client'
    AND NOT EXISTS (SELECT 1 FROM grant_records g WHERE g.client_id = o.id)
    AND NOT EXISTS (SELECT 1 FROM client_state s WHERE s.client_id = o.id AND (s.first_used_at IS NOT NULL OR s.disabled_at IS NOT NULL))
    AND NOT EXISTS (SELECT 1 FROM service_clients c WHERE c.client_id = o.id)`;
  // Newest first and stopping at the cap: a registration costs a walk over the clients registered
  // since the cleanup cut-off, and no more than `limit` unused ones, however many agents exist.
  const countUnused = db.prepare(
    `SELECT count(*) AS n FROM (SELECT 1 FROM oidc_models o WHERE ${UNUSED} AND o.created_at > ? ORDER BY o.created_at DESC LIMIT ?)`,
  );
  const staleUnused = db.prepare(`SELECT o.id FROM oidc_models o WHERE ${UNUSED} AND o.created_at <= ?`);
  const forgetState = db.prepare('DELETE FROM client_state WHERE client_id = ? AND disabled_at IS NULL');

  const countRelated = (clientId: string): RelatedCounts =>
    Object.fromEntries((related.all(clientId) as CountRow[]).map((r) => [r.model, r.n]));

  return {
    list(): StoredClient[] {
      return (all.all() as ClientRow[]).map(toClient);
    },
    find(clientId: string): StoredClient | undefined {
      const row = byId.get(clientId) as ClientRow | undefined;
      return row && toClient(row);
    },
    related: countRelated,
    /**
     * Registrations made after `since` (unix seconds) that never completed an authorization, counted
     * up to `limit` (the cap on these stops floods; older ones are the cleanup's).
     */
    countUnused(since: number, limit: number): number {
      return (countUnused.get(since, limit) as { n: number }).n;
    },
    /**
     * Deletes registrations that never completed an authorization and are older than `ttl` seconds,
     * with whatever is attached to them (interactions, sessions' references). Returns how many.
     */
    purgeUnused(now: number, ttl: number): number {
      return db.transaction(() => {
        const ids = (staleUnused.all(now - ttl) as { id: string }[]).map((r) => r.id);
        for (const id of ids) {
          removeClient.run(id);
          removeRelated.run(id);
          forgetState.run(id);
        }
        return ids.length;
      })();
    },
    /**
     * Deletes the client and every grant, code and token issued to it, all or nothing. Returns what
     * was deleted besides the client, or undefined when there is no such client.
     */
    delete(clientId: string): RelatedCounts | undefined {
      return db.transaction(() => {
        const counts = countRelated(clientId);
        if (removeClient.run(clientId).changes === 0) return undefined;
        removeRelated.run(clientId);
        return counts;
      })();
    },
  };
}
