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
    "SELECT id, payload, created_at FROM oidc_models WHERE model = 'Client' ORDER BY created_at, id",
  );
  const byId = db.prepare("SELECT id, payload, created_at FROM oidc_models WHERE model = 'Client' AND id = ?");
  const related = db.prepare(
    "SELECT model, count(*) AS n FROM oidc_models WHERE client_id = ? AND model <> 'Client' GROUP BY model ORDER BY model",
  );
  const removeClient = db.prepare("DELETE FROM oidc_models WHERE model = 'Client' AND id = ?");
  const removeRelated = db.prepare("DELETE FROM oidc_models WHERE client_id = ? AND model <> 'Client'");

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
