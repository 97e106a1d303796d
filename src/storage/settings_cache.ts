// Settings the token path reads on every request, kept in memory between requests: the MCP servers
// with their scopes and labels, the labelled tools, the agent policies. They change only when an
// admin changes them, yet a refresh read them with five or six statements (one round trip each on
// PostgreSQL).
//
// One read of `settings_version` tells whether what is kept is still current: triggers give that
// row a new value in the same transaction as any change to those tables, whoever makes it (this
// process, another node, the CLI in another shell): migrations/0092_settings_version.sql. So a
// narrowed policy or a changed label applies at the very next token request on every node, exactly
// as when every request read the tables.
//
// The order of reads is what makes it safe: the version first, then the rows. Rows read after the
// version are at least as new as it; kept under that version, they are dropped as soon as any later
// request reads another one. A load that raced a change (the version moved while it read) is used
// for its own request but not kept. Inside an authorization or token request the version is read
// once (./read_memo.ts).
import { BoundedMap } from '../lib/bounded_map.js';
import type { Sql } from './engine.js';
import { memoised } from './read_memo.js';

/** Entries kept at most: keys name MCP servers an admin registered, so this is never reached in practice. */
const MAX_ENTRIES = 10_000;

export interface SettingsCache {
  /**
   * The value kept under `key` if the settings have not changed since it was read, else `load()`
   * (kept when the settings did not change meanwhile). `keep` (default: always) says whether a
   * loaded value may be kept: an unknown name an agent sent is not worth keeping.
   */
  get<T>(key: string, load: () => Promise<T>, keep?: (value: T) => boolean): Promise<T>;
}

const VERSION = 'SELECT version FROM settings_version WHERE id = 1';

const caches = new WeakMap<Sql, SettingsCache>();

/** The cache of this database handle: every repository made on the same `sql` shares it. */
export function settingsCache(sql: Sql): SettingsCache {
  let cache = caches.get(sql);
  if (!cache) {
    cache = createSettingsCache(sql);
    caches.set(sql, cache);
  }
  return cache;
}

function createSettingsCache(sql: Sql): SettingsCache {
  let version: string | undefined;
  const entries = new BoundedMap<string, unknown>(MAX_ENTRIES);
  const current = () =>
    memoised(
      'settings_version',
      async () => {
        const row = await sql.get<{ version: number | string }>(VERSION);
        // Compared as text: both engines' integers, whatever their size.
        return row ? String(row.version) : undefined;
      },
      { settings: true },
    );
  return {
    async get<T>(key: string, load: () => Promise<T>, keep: (value: T) => boolean = () => true): Promise<T> {
      const seen = await current();
      // No version row means a schema this code does not know: keep nothing.
      if (seen === undefined) return load();
      if (seen !== version) {
        entries.clear();
        version = seen;
      }
      if (entries.has(key)) return entries.get(key) as T;
      const value = await load();
      if (version === seen && keep(value)) {
        entries.set(key, value);
      }
      return value;
    },
  };
}

/**
 * Freezes a value kept for every request, and everything in it (plain objects and arrays), so a
 * caller that changed it in place would fail at once rather than change it for the next request.
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
