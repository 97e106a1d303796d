import { epochSeconds } from '../lib/duration.js';
import type { Db } from './db.js';

export interface ResourceScope {
  scope: string;
  /** The description given with --scope, shown when there is none in the reader's language. */
  description: string;
  isDefault: boolean;
  isWrite: boolean;
  /** Descriptions in other languages, by language code (ja, ko, ...). */
  descriptions?: Readonly<Record<string, string>>;
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

export class UnknownScopeError extends Error {
  override name = 'UnknownScopeError';
}

interface ResourceRow {
  id: number;
  uri: string;
  name: string;
  created_at: number;
}
interface DescriptionRow {
  scope: string;
  lang: string;
  description: string;
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
  const descriptionsOf = db.prepare(
    'SELECT scope, lang, description FROM resource_scope_descriptions WHERE resource_id = ?',
  );
  const upsertDescription = db.prepare(
    `INSERT INTO resource_scope_descriptions (resource_id, scope, lang, description) VALUES (?, ?, ?, ?)
     ON CONFLICT (resource_id, scope, lang) DO UPDATE SET description = excluded.description`,
  );

  const translations = (resourceId: number): Map<string, Record<string, string>> => {
    const byScope = new Map<string, Record<string, string>>();
    for (const d of descriptionsOf.all(resourceId) as DescriptionRow[]) {
      const entry = byScope.get(d.scope) ?? {};
      entry[d.lang] = d.description;
      byScope.set(d.scope, entry);
    }
    return byScope;
  };

  const withScopes = (row: ResourceRow): Resource => {
    const translated = translations(row.id);
    return {
      id: row.id,
      uri: row.uri,
      name: row.name,
      createdAt: row.created_at,
      scopes: (scopesOf.all(row.id) as ScopeRow[]).map((s) => ({
        scope: s.scope,
        description: s.description,
        isDefault: s.is_default === 1,
        isWrite: s.is_write === 1,
        ...(translated.has(s.scope) ? { descriptions: translated.get(s.scope) } : {}),
      })),
    };
  };

  return {
    /** Adds a resource with its scopes in one transaction: all or nothing. */
    create(uri: string, name: string, scopes: ResourceScope[]): Resource {
      return db.transaction(() => {
        if (byUri.get(uri)) throw new ResourceExistsError(`resource ${uri} already exists`);
        const info = insert.run(uri, name, epochSeconds());
        const id = Number(info.lastInsertRowid);
        scopes.forEach((s, i) => {
          insertScope.run(id, s.scope, s.description, s.isDefault ? 1 : 0, s.isWrite ? 1 : 0, i);
          for (const [lang, text] of Object.entries(s.descriptions ?? {}))
            upsertDescription.run(id, s.scope, lang, text);
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
    /**
     * Sets (or replaces) descriptions of a resource's scopes in one language, all or nothing.
     * Returns the updated resource, or undefined when no such resource; throws on an unknown scope.
     */
    describe(uri: string, lang: string, descriptions: { scope: string; description: string }[]): Resource | undefined {
      return db.transaction(() => {
        const row = byUri.get(uri) as ResourceRow | undefined;
        if (!row) return undefined;
        const known = new Set((scopesOf.all(row.id) as ScopeRow[]).map((s) => s.scope));
        for (const d of descriptions) {
          if (!known.has(d.scope)) throw new UnknownScopeError(`resource ${uri} has no scope ${d.scope}`);
          upsertDescription.run(row.id, d.scope, lang, d.description);
        }
        return withScopes(row);
      })();
    },
    remove(uri: string): boolean {
      return remove.run(uri).changes > 0;
    },
  };
}
