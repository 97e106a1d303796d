// What we know of each agent besides its oidc-provider metadata: how it registered, first and last
// use, and whether an admin disabled it.
import type { Db } from './db.js';

export interface ClientState {
  clientId: string;
  registeredVia: string;
  firstUsedAt: number | null;
  lastUsedAt: number | null;
  disabledAt: number | null;
  disabledBy: string | null;
}

interface Row {
  client_id: string;
  registered_via: string;
  first_used_at: number | null;
  last_used_at: number | null;
  disabled_at: number | null;
  disabled_by: string | null;
}

export type ClientStateRepository = ReturnType<typeof createClientStateRepository>;

export function createClientStateRepository(db: Db) {
  const registered = db.prepare(
    'INSERT INTO client_state (client_id, registered_via) VALUES (?, ?) ON CONFLICT (client_id) DO NOTHING',
  );
  const used = db.prepare(`
    INSERT INTO client_state (client_id, registered_via, first_used_at, last_used_at) VALUES (@id, 'unknown', @now, @now)
    ON CONFLICT (client_id) DO UPDATE SET first_used_at = COALESCE(first_used_at, @now), last_used_at = @now`);
  const byId = db.prepare('SELECT * FROM client_state WHERE client_id = ?');
  const all = db.prepare('SELECT * FROM client_state');
  const toState = (r: Row): ClientState => ({
    clientId: r.client_id,
    registeredVia: r.registered_via,
    firstUsedAt: r.first_used_at,
    lastUsedAt: r.last_used_at,
    disabledAt: r.disabled_at,
    disabledBy: r.disabled_by,
  });
  return {
    registered(clientId: string, via: string): void {
      registered.run(clientId, via);
    },
    used(clientId: string, now: number): void {
      used.run({ id: clientId, now });
    },
    find(clientId: string): ClientState | undefined {
      const row = byId.get(clientId) as Row | undefined;
      return row && toState(row);
    },
    all(): Map<string, ClientState> {
      return new Map((all.all() as Row[]).map((r) => [r.client_id, toState(r)]));
    },
  };
}
