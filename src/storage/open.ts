// Opens the configured storage engine: PostgreSQL when MCP_OAUTH_DATABASE_URL (or its _FILE) is
// set, else the SQLite file under the data directory (the embedded default). Every entry point
// (server, CLI, tests) comes through here, so the choice of engine has one home.
import type { Config } from '../config/index.js';
import { openDatabase } from './db.js';
import { type Sql, sqliteEngine } from './engine.js';
import { postgresEngine } from './engine_pg.js';

type StorageConfig = Pick<Config, 'databaseFile'> &
  Partial<Pick<Config, 'databaseUrl' | 'databasePoolSize' | 'databaseConnectTimeout'>>;

export async function openStorage(config: StorageConfig, opts: { onError?: (err: Error) => void } = {}): Promise<Sql> {
  if (config.databaseUrl) {
    return postgresEngine({
      url: config.databaseUrl,
      poolSize: config.databasePoolSize,
      connectTimeoutMs: config.databaseConnectTimeout === undefined ? undefined : config.databaseConnectTimeout * 1000,
      onError: opts.onError,
    });
  }
  return sqliteEngine(openDatabase(config.databaseFile));
}

/**
 * The database in words, for logs and CLI messages: `PostgreSQL postgres://app@db:5432/mcp` (the
 * password and every URL parameter left out: they may hold secrets) or `SQLite /path/file`.
 */
export function describeDatabase(config: Pick<Config, 'databaseFile'> & Partial<Pick<Config, 'databaseUrl'>>): string {
  if (!config.databaseUrl) return `SQLite ${config.databaseFile}`;
  const url = URL.parse(config.databaseUrl);
  if (!url) return 'PostgreSQL (unreadable URL)';
  const user = url.username ? `${url.username}@` : '';
  const port = url.port ? `:${url.port}` : '';
  return `PostgreSQL ${url.protocol}//${user}${url.hostname}${port}${url.pathname}`;
}
