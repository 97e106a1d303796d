// The two engines' schemas are the same schema: every table, column and index that
// migrations/*.sql gives SQLite exists in PostgreSQL after migrations/postgres/*.sql. A SQLite
// migration written without its PostgreSQL twin fails here (docs/storage.md, "Migrations").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/db.js';
import { sqliteEngine } from '../../src/storage/engine.js';
import { postgresEngine } from '../../src/storage/engine_pg.js';
import { migrate } from '../../src/storage/migrate.js';
import { createTestDatabase, postgresForTests, type TestDatabase } from '../support/postgres.js';

const cluster = await postgresForTests();

/** PostgreSQL-only indexes, each standing in for something SQLite says another way. */
const POSTGRES_ONLY_INDEXES: Record<string, string> = {};

interface Column {
  type: 'integer' | 'text' | 'blob';
  notNull: boolean;
  hasDefault: boolean;
}
interface Schema {
  tables: Map<string, Map<string, Column>>;
  /** Index name → partial (has a WHERE). */
  indexes: Map<string, boolean>;
}

const family = (type: string): Column['type'] => {
  const t = type.toLowerCase();
  if (t === 'integer' || t === 'bigint') return 'integer';
  if (t === 'text') return 'text';
  if (t === 'blob' || t === 'bytea') return 'blob';
  throw new Error(`unexpected column type ${type}`);
};

async function sqliteSchema(): Promise<Schema> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-parity-'));
  const sql = sqliteEngine(openDatabase(path.join(dir, 'db.sqlite')));
  try {
    await migrate(sql);
    const tables = new Map<string, Map<string, Column>>();
    const names = await sql.all<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    );
    for (const { name } of names) {
      const columns = await sql.all<{
        name: string;
        type: string;
        notnull: number;
        dflt_value: string | null;
        pk: number;
      }>(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info('${name}')`);
      tables.set(
        name,
        new Map(
          columns.map((c) => [
            c.name,
            // An INTEGER PRIMARY KEY is NOT NULL and filled in by SQLite (PostgreSQL: an identity).
            { type: family(c.type), notNull: c.notnull === 1 || c.pk === 1, hasDefault: c.dflt_value !== null },
          ]),
        ),
      );
    }
    const indexes = await sql.all<{ name: string; sql: string }>(
      "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    );
    return { tables, indexes: new Map(indexes.map((i) => [i.name, /\bWHERE\b/i.test(i.sql)])) };
  } finally {
    await sql.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgresSchema(url: string): Promise<Schema> {
  const sql = postgresEngine({ url, poolSize: 1 });
  try {
    const columns = await sql.all<{
      table_name: string;
      column_name: string;
      data_type: string;
      is_nullable: string;
      column_default: string | null;
    }>(
      `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
        WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
    );
    const tables = new Map<string, Map<string, Column>>();
    for (const c of columns) {
      if (!tables.has(c.table_name)) tables.set(c.table_name, new Map());
      tables.get(c.table_name)?.set(c.column_name, {
        type: family(c.data_type === 'bytea' ? 'bytea' : c.data_type),
        notNull: c.is_nullable === 'NO',
        hasDefault: c.column_default !== null,
      });
    }
    // Indexes made by PRIMARY KEY and UNIQUE constraints are SQLite's unnamed autoindexes.
    const indexes = await sql.all<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
        AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))`,
    );
    return { tables, indexes: new Map(indexes.map((i) => [i.indexname, /\bWHERE\b/i.test(i.indexdef)])) };
  } finally {
    await sql.close();
  }
}

describe.skipIf(!cluster.url)(`schema parity${cluster.url ? '' : ` (skipped: ${cluster.reason})`}`, () => {
  let database: TestDatabase;
  let lite: Schema;
  let postgres: Schema;
  beforeAll(async () => {
    database = await createTestDatabase();
    [lite, postgres] = await Promise.all([sqliteSchema(), postgresSchema(database.url)]);
  });
  afterAll(() => database?.drop());

  it('has the same tables', () => {
    expect([...postgres.tables.keys()].sort()).toEqual([...lite.tables.keys()].sort());
  });

  it('has the same columns, types, NOT NULL and defaults', () => {
    for (const [table, columns] of lite.tables) {
      const twin = postgres.tables.get(table);
      expect({ table, columns: Object.fromEntries(twin ?? []) }).toEqual({
        table,
        columns: Object.fromEntries(columns),
      });
    }
  });

  it('compares user names without case, as SQLite does (COLLATE NOCASE)', async () => {
    const sql = postgresEngine({ url: database.url, poolSize: 1 });
    try {
      await sql.run('INSERT INTO users (id, username, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)', [
        'u1',
        'Alice',
        'x',
        1,
        1,
      ]);
      expect(await sql.get('SELECT id FROM users WHERE username = ?', ['aLICE'])).toEqual({ id: 'u1' });
      await expect(
        sql.run('INSERT INTO users (id, username, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)', [
          'u2',
          'ALICE',
          'x',
          1,
          1,
        ]),
      ).rejects.toThrow(/users_username_key/);
      await sql.run('DELETE FROM users');
    } finally {
      await sql.close();
    }
  });

  it('has the same indexes by name, partial ones partial', () => {
    const extra = [...postgres.indexes.keys()].filter((name) => !lite.indexes.has(name));
    expect(extra.filter((name) => !(name in POSTGRES_ONLY_INDEXES))).toEqual([]);
    for (const [name, partial] of lite.indexes)
      expect({ name, partial: postgres.indexes.get(name) }).toEqual({ name, partial });
  });
});
