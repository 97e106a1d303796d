// The one place the tests pick a storage engine. Every test that needs a database of its own (a
// test server, a CLI's data directory, a repository under test) opens it here, so running the
// suite on another engine means changing this function only.
//   - SQLite (the default): the database is the file the server and the CLI would use in `dataDir`.
//   - PostgreSQL (MCP_OAUTH_TEST_ENGINE=postgres, how `npm test`'s second run goes): the first
//     opening of a `dataDir` creates a fresh migrated database in the run's throwaway cluster and
//     writes its URL into the directory, so every later opening of the same directory (the CLI on a
//     test server's data, a second connection) reaches the same database; `databaseEnv(dataDir)`
//     gives the environment a server or CLI on that directory needs.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Db, openDatabase } from '../../src/storage/db.js';
import { type Sql, sqliteEngine } from '../../src/storage/engine.js';
import { postgresEngine } from '../../src/storage/engine_pg.js';
import { migrate } from '../../src/storage/migrate.js';
import { createTestDatabase, testEngine } from './postgres.js';

const URL_FILE = 'postgres-url';

/** The variables a server or CLI on `dataDir` needs besides MCP_OAUTH_DATA_DIR (none on SQLite). */
export function databaseEnv(dataDir: string): Record<string, string> {
  const file = path.join(dataDir, URL_FILE);
  return existsSync(file) ? { MCP_OAUTH_DATABASE_URL: readFileSync(file, 'utf8') } : {};
}

export interface TestStorage {
  sql: Sql;
  close(): Promise<void>;
}

/** The database file a server or CLI with MCP_OAUTH_DATA_DIR=`dataDir` opens. */
export function databaseFile(dataDir: string): string {
  return path.join(dataDir, 'mcp-oauth.sqlite');
}

/** Opens the database of `dataDir` (created when missing) and, unless told not to, migrates it. */
export async function openTestStorage(dataDir: string, opts: { migrate?: boolean } = {}): Promise<TestStorage> {
  if (testEngine() === 'postgres') return openPostgres(dataDir, opts.migrate ?? true);
  const sql = sqliteEngine(openDatabase(databaseFile(dataDir)));
  if (opts.migrate ?? true) {
    try {
      await migrate(sql);
    } catch (err) {
      await sql.close();
      throw err;
    }
  }
  return { sql, close: () => sql.close() };
}

/** A new, migrated database in a temporary directory that `close` removes. */
export async function tempTestStorage(): Promise<TestStorage & { dataDir: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-db-'));
  const storage = await openTestStorage(dataDir);
  return {
    sql: storage.sql,
    dataDir,
    async close() {
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The raw better-sqlite3 handle behind `sql`, for the few tests that are about SQLite itself
 * (pragmas, file locks, the backup file); it throws on any other engine, so such a test says so.
 */
export function sqliteHandle(sql: Sql): Db {
  if (sql.kind !== 'sqlite' || !('db' in sql)) throw new Error('this test needs the SQLite engine');
  return (sql as Sql & { db: Db }).db;
}

async function openPostgres(dataDir: string, migrated: boolean): Promise<TestStorage> {
  const known = databaseEnv(dataDir).MCP_OAUTH_DATABASE_URL;
  if (known !== undefined) {
    const sql = postgresEngine({ url: known, poolSize: 4 });
    return { sql, close: () => sql.close() };
  }
  // The opening that creates the database owns it: its close drops it.
  const database = await createTestDatabase({ empty: !migrated });
  writeFileSync(path.join(dataDir, URL_FILE), database.url, { mode: 0o600 });
  const sql = postgresEngine({ url: database.url, poolSize: 4 });
  return {
    sql,
    async close() {
      await sql.close();
      await database.drop();
    },
  };
}
