import { epochSeconds } from '../lib/duration.js';
import type { Db } from './db.js';

export interface ResourceScope {
  scope: string;
  description: string;
  isDefault: boolean;
  isWrite: boolean;
}

export interface Resource {
  id: number;
  uri: string;
  name: string;
  createdAt: number;
  scopes: ResourceScope[];
}

export class ResourceExistsError extends Error {
  override name = 'ResourceExistsError';
}

interface ResourceRow {
  id: number;
  uri: string;
  name: string;
  created_at: number;
}
interface ScopeRow {
  resource_id: number;
  scope: string;
  description: string;
  is_default: number;
  is_write: number;
}

export type ResourceRepository = ReturnType<typeof createResourceRepository>;

export function createResourceRepository(db: Db) {
  const insert = db.prepare('INSERT INTO resources (uri, name, created_at) VALUES (?, ?, ?)');
  const insertScope = db.prepare(
    'INSERT INTO resource_scopes (resource_id, scope, description, is_default, is_write, position) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const byUri = db.prepare('SELECT * FROM resources WHERE uri = ?');
  const all = db.prepare('SELECT * FROM resources ORDER BY uri');
  const count = db.prepare('SELECT count(*) AS n FROM resources');
  const scopesOf = db.prepare('SELECT * FROM resource_scopes WHERE resource_id = ? ORDER BY position, scope');
  const allScopes = db.prepare('SELECT DISTINCT scope FROM resource_scopes ORDER BY scope');
  const remove = db.prepare('DELETE FROM resources WHERE uri = ?');

  const withScopes = (row: ResourceRow): Resource => ({
    id: row.id,
    uri: row.uri,
    name: row.name,
    createdAt: row.created_at,
    scopes: (scopesOf.all(row.id) as ScopeRow[]).map((s) => ({
      scope: s.scope,
      description: s.description,
      isDefault: s.is_default === 1,
      isWrite: s.is_write === 1,
    })),
  });

  return {
    /** Adds a resource with its scopes in one transaction: all or nothing. */
    create(uri: string, name: string, scopes: ResourceScope[]): Resource {
      return db.transaction(() => {
        if (byUri.get(uri)) throw new ResourceExistsError(`resource ${uri} already exists`);
        const info = insert.run(uri, name, epochSeconds());
        const id = Number(info.lastInsertRowid);
        scopes.forEach((s, i) => {
          insertScope.run(id, s.scope, s.description, s.isDefault ? 1 : 0, s.isWrite ? 1 : 0, i);
        });
        return withScopes(byUri.get(uri) as ResourceRow);
      })();
    },
    findByUri(uri: string): Resource | undefined {
      const row = byUri.get(uri) as ResourceRow | undefined;
      return row && withScopes(row);
    },
    list(): Resource[] {
      return (all.all() as ResourceRow[]).map(withScopes);
    },
    count(): number {
      return (count.get() as { n: number }).n;
    },
    /** The only resource, when exactly one is registered (the default for agents that send none). */
    single(): Resource | undefined {
      const rows = db.prepare('SELECT * FROM resources LIMIT 2').all() as ResourceRow[];
      return rows.length === 1 && rows[0] ? withScopes(rows[0]) : undefined;
    },
    allScopes(): string[] {
      return (allScopes.all() as { scope: string }[]).map((r) => r.scope);
    },
    remove(uri: string): boolean {
      return remove.run(uri).changes > 0;
    },
  };
}
