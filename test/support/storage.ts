// The one place the tests pick a storage engine. Every test that needs a database of its own (a
// test server, a CLI's data directory, a repository under test) opens it here, so running the
// suite on another engine means changing this function only. SQLite for now: the database is the
// file the server and the CLI would use in `dataDir`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Db, openDatabase } from '../../src/storage/db.js';
import { type Sql, sqliteEngine } from '../../src/storage/engine.js';
import { migrate } from '../../src/storage/migrate.js';

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
