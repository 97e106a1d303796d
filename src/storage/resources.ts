import { epochSeconds } from '../lib/duration.js';
import type { Sql } from './engine.js';
import { deepFreeze, settingsCache } from './settings_cache.js';

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

const INSERT = 'INSERT INTO resources (uri, name, created_at) VALUES (?, ?, ?) RETURNING id';
const INSERT_SCOPE =
  'INSERT INTO resource_scopes (resource_id, scope, description, is_default, is_write, position) VALUES (?, ?, ?, ?, ?, ?)';
const BY_URI = 'SELECT * FROM resources WHERE uri = ?';
const ALL = 'SELECT * FROM resources ORDER BY uri';
const COUNT = 'SELECT COUNT(*) AS n FROM resources';
const FIRST_TWO = 'SELECT * FROM resources LIMIT 2';
const SCOPES_OF = 'SELECT * FROM resource_scopes WHERE resource_id = ? ORDER BY position, scope';
const ALL_SCOPES = 'SELECT DISTINCT scope FROM resource_scopes ORDER BY scope';
const REMOVE = 'DELETE FROM resources WHERE uri = ?';
const DESCRIPTIONS_OF = 'SELECT scope, lang, description FROM resource_scope_descriptions WHERE resource_id = ?';
const UPSERT_DESCRIPTION = `INSERT INTO resource_scope_descriptions (resource_id, scope, lang, description) VALUES (?, ?, ?, ?)
  ON CONFLICT (resource_id, scope, lang) DO UPDATE SET description = excluded.description`;

export function createResourceRepository(sql: Sql) {
  const settings = settingsCache(sql);
  const translations = async (resourceId: number): Promise<Map<string, Record<string, string>>> => {
    const byScope = new Map<string, Record<string, string>>();
    for (const d of await sql.all<DescriptionRow>(DESCRIPTIONS_OF, [resourceId])) {
      const entry = byScope.get(d.scope) ?? {};
      entry[d.lang] = d.description;
      byScope.set(d.scope, entry);
    }
    return byScope;
  };

  const withScopes = async (row: ResourceRow): Promise<Resource> => {
    const translated = await translations(row.id);
    return {
      id: row.id,
      uri: row.uri,
      name: row.name,
      createdAt: row.created_at,
      scopes: (await sql.all<ScopeRow>(SCOPES_OF, [row.id])).map((s) => ({
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
    async create(uri: string, name: string, scopes: ResourceScope[]): Promise<Resource> {
      return sql.transaction(async () => {
        if (await sql.get(BY_URI, [uri])) throw new ResourceExistsError(`resource ${uri} already exists`);
        const inserted = await sql.get<{ id: number }>(INSERT, [uri, name, epochSeconds()]);
        const id = Number(inserted?.id);
        for (const [i, s] of scopes.entries()) {
          await sql.run(INSERT_SCOPE, [id, s.scope, s.description, s.isDefault ? 1 : 0, s.isWrite ? 1 : 0, i]);
          for (const [lang, text] of Object.entries(s.descriptions ?? {}))
            await sql.run(UPSERT_DESCRIPTION, [id, s.scope, lang, text]);
        }
        return withScopes((await sql.get<ResourceRow>(BY_URI, [uri])) as ResourceRow);
      });
    },
    async findByUri(uri: string): Promise<Resource | undefined> {
      // Kept between requests while no setting changes (./settings_cache.ts); an unknown URI an
      // agent sent is read each time, not kept.
      return settings.get(
        `resources:${uri}`,
        async () => {
          const row = await sql.get<ResourceRow>(BY_URI, [uri]);
          return row && deepFreeze(await withScopes(row));
        },
        (found) => found !== undefined,
      );
    },
    async list(): Promise<Resource[]> {
      const rows = await sql.all<ResourceRow>(ALL);
      const list: Resource[] = [];
      for (const row of rows) list.push(await withScopes(row));
      return list;
    },
    async count(): Promise<number> {
      return (await sql.get<{ n: number }>(COUNT))?.n ?? 0;
    },
    /** The only resource, when exactly one is registered (the default for agents that send none). */
    async single(): Promise<Resource | undefined> {
      return settings.get('resources:single', async () => {
        const rows = await sql.all<ResourceRow>(FIRST_TWO);
        return rows.length === 1 && rows[0] ? deepFreeze(await withScopes(rows[0])) : undefined;
      });
    },
    async allScopes(): Promise<readonly string[]> {
      return settings.get('resources:all_scopes', async () =>
        deepFreeze((await sql.all<{ scope: string }>(ALL_SCOPES)).map((r) => r.scope)),
      );
    },
    /**
     * Sets (or replaces) descriptions of a resource's scopes in one language, all or nothing.
     * Returns the updated resource, or undefined when no such resource; throws on an unknown scope.
     */
    async describe(
      uri: string,
      lang: string,
      descriptions: { scope: string; description: string }[],
    ): Promise<Resource | undefined> {
      return sql.transaction(async () => {
        const row = await sql.get<ResourceRow>(BY_URI, [uri]);
        if (!row) return undefined;
        const known = new Set((await sql.all<ScopeRow>(SCOPES_OF, [row.id])).map((s) => s.scope));
        for (const d of descriptions) {
          if (!known.has(d.scope)) throw new UnknownScopeError(`resource ${uri} has no scope ${d.scope}`);
          await sql.run(UPSERT_DESCRIPTION, [row.id, d.scope, lang, d.description]);
        }
        return withScopes(row);
      });
    },
    async remove(uri: string): Promise<boolean> {
      return (await sql.run(REMOVE, [uri])).changes > 0;
    },
  };
}
