// `mcp-oauth db copy`: a real SQLite file with rows in every table, copied into a real, empty
// PostgreSQL database of the test cluster, checked, and refused into a database that has rows.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/index.js';
import { openDatabase } from '../../src/storage/db.js';
import { type Sql, type SqlValue, sqliteEngine } from '../../src/storage/engine.js';
import { postgresEngine } from '../../src/storage/engine_pg.js';
import { migrate } from '../../src/storage/migrate.js';
import { createTestDatabase, postgresForTests, type TestDatabase } from '../support/postgres.js';

const cluster = await postgresForTests();

const dirs: string[] = [];
const databases: TestDatabase[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
afterAll(async () => {
  for (const db of databases) await db.drop();
});

async function cli(argv: string[], env: Record<string, string>) {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    env,
    stdin: Readable.from([]),
    stdout: {
      write: (s: string) => {
        out += s;
      },
    },
    stderr: {
      write: (s: string) => {
        err += s;
      },
    },
  });
  return { code, out, err };
}

// A value every CHECK and foreign key of the schema accepts, by column name, else by type.
const CHOSEN: Record<string, SqlValue> = {
  kind: 'grant',
  state: 'pending',
  match_kind: 'client',
  classification: 'internal',
  lang: 'en',
  scope: 'mcp:read',
  user_id: 'user-1',
  resource_id: 1,
  is_admin: 1,
  disabled: 0,
  is_default: 1,
  is_write: 0,
  read_only: 1,
};

/** A migrated SQLite database under a new data directory, with rows in every table. */
async function filledDataDir(): Promise<{ dataDir: string; tables: string[] }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-copy-'));
  dirs.push(dataDir);
  const sql = sqliteEngine(openDatabase(path.join(dataDir, 'mcp-oauth.sqlite')));
  try {
    await migrate(sql);
    const tables = (
      await sql.all<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT IN ('schema_migrations', 'settings_version')",
      )
    ).map((t) => t.name);
    // Parents first; the rest in any order.
    const first = ['users', 'resources', 'resource_scopes'];
    for (const table of [...first, ...tables.filter((t) => !first.includes(t))]) await fillOne(sql, table);
    // Enough audit rows to cross the copy's pages, with text a naive copy would mangle.
    await sql.transaction(async () => {
      for (let i = 0; i < 2500; i++) {
        await sql.run('INSERT INTO audit_events (at, event, result, details) VALUES (?, ?, ?, ?)', [
          1_700_000_000 + i,
          'login',
          'success',
          i % 2 ? `{"q":"it's ? @x 'é' ${i}"}` : null,
        ]);
      }
    });
    // AUTOINCREMENT: the highest revocation was purged, its number must still never come back.
    await sql.run('INSERT INTO revocations (kind, subject, before, created_at, expires_at) VALUES (?, ?, ?, ?, ?)', [
      'user',
      'user-1',
      1,
      1,
      1,
    ]);
    await sql.run('DELETE FROM revocations WHERE seq = (SELECT MAX(seq) FROM revocations)');
    return { dataDir, tables };
  } finally {
    await sql.close();
  }
}

async function fillOne(sql: Sql, table: string): Promise<void> {
  const columns = await sql.all<{ name: string; type: string }>('SELECT name, type FROM pragma_table_info(?)', [table]);
  const values = columns.map(({ name, type }) => {
    if (name in CHOSEN) return CHOSEN[name] as SqlValue;
    if (table === 'users' && name === 'id') return 'user-1';
    if (type === 'INTEGER') return 1;
    if (type === 'BLOB') return Buffer.from([0, 1, 2, 254, 255]);
    return `${table}.${name} ✓`;
  });
  await sql.run(
    `INSERT INTO ${table} (${columns.map((c) => c.name).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
    values,
  );
}

describe.skipIf(!cluster.url)(`mcp-oauth db copy${cluster.url ? '' : ` (skipped: ${cluster.reason})`}`, () => {
  it('copies every table into an empty PostgreSQL database, checks it, and refuses to copy twice', async () => {
    const { dataDir, tables } = await filledDataDir();
    const target = await createTestDatabase({ empty: true });
    databases.push(target);
    // A password in the URL (trust authentication ignores it) must appear in no output.
    const url = new URL(target.url);
    url.password = 'Secret-Pw-123';
    const urlFile = path.join(dataDir, 'database-url');
    writeFileSync(urlFile, url.toString());
    const env = { MCP_OAUTH_DATA_DIR: dataDir, MCP_OAUTH_DATABASE_URL_FILE: urlFile };

    const first = await cli(['db', 'copy'], env);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toContain('row counts and checksums match');
    expect(first.out).toContain('audit_events: 2501 rows');
    expect(first.out).not.toContain('Secret-Pw-123');

    const pg = postgresEngine({ url: target.url, poolSize: 1 });
    const lite = sqliteEngine(openDatabase(path.join(dataDir, 'mcp-oauth.sqlite')));
    try {
      for (const table of tables) {
        const n = await pg.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`);
        expect({ table, n: n?.n }).toEqual({ table, n: table === 'audit_events' ? 2501 : 1 });
      }
      const passkey = await pg.get<{ public_key: Buffer }>('SELECT public_key FROM passkeys');
      expect(passkey?.public_key.equals(Buffer.from([0, 1, 2, 254, 255]))).toBe(true);
      const [pgAudit, liteAudit] = await Promise.all(
        [pg, lite].map((s) => s.all('SELECT id, details FROM audit_events ORDER BY id')),
      );
      expect(pgAudit).toEqual(liteAudit);
      // Identities continue after the copied ids, and after a purged AUTOINCREMENT number.
      const seq = await pg.get<{ seq: number }>(
        'INSERT INTO revocations (kind, subject, before, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING seq',
        ['user', 'user-1', 1, 1, 1],
      );
      expect(seq?.seq).toBe(3);
      const audit = await pg.get<{ id: number }>(
        "INSERT INTO audit_events (at, event, result) VALUES (1, 'x', 'y') RETURNING id",
      );
      expect(audit?.id).toBe(2502);
      await pg.run('DELETE FROM revocations WHERE seq = 3');
      await pg.run('DELETE FROM audit_events WHERE id = 2502');

      const again = await cli(['db', 'copy'], env);
      expect(again.code).toBe(1);
      expect(again.err).toMatch(
        /the target database is not empty \(rows in .*\busers\b.*\): copy only into a new, empty database/,
      );
      expect(await pg.get('SELECT COUNT(*) AS n FROM audit_events')).toEqual({ n: 2501 });
    } finally {
      await pg.close();
      await lite.close();
    }
  });

  it('a row PostgreSQL refuses rolls the whole copy back', async () => {
    const { dataDir } = await filledDataDir();
    // SQLite TEXT may hold a NUL character; PostgreSQL text may not. Both engines refuse to write
    // one now, so the row is written past the engine, as an older release could have left it.
    const raw = openDatabase(path.join(dataDir, 'mcp-oauth.sqlite'));
    raw.prepare('INSERT INTO settings (name, value) VALUES (?, ?)').run('late', 'a\u0000b');
    raw.close();
    const target = await createTestDatabase({ empty: true });
    databases.push(target);
    const result = await cli(['db', 'copy'], { MCP_OAUTH_DATA_DIR: dataDir, MCP_OAUTH_DATABASE_URL: target.url });
    expect(result.code).toBe(1);
    expect(result.err).toContain('the copy failed and the target was left as it was');
    const pg = postgresEngine({ url: target.url, poolSize: 1 });
    try {
      expect(await pg.get('SELECT COUNT(*) AS n FROM users')).toEqual({ n: 0 });
      expect(await pg.get('SELECT COUNT(*) AS n FROM audit_events')).toEqual({ n: 0 });
    } finally {
      await pg.close();
    }
  });
});

describe('mcp-oauth db copy without a target', () => {
  it('asks for MCP_OAUTH_DATABASE_URL and never takes it from the command line', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-copy-'));
    dirs.push(dataDir);
    const none = await cli(['db', 'copy'], { MCP_OAUTH_DATA_DIR: dataDir });
    expect(none.code).toBe(1);
    expect(none.err).toContain('set MCP_OAUTH_DATABASE_URL (or MCP_OAUTH_DATABASE_URL_FILE)');
    const argv = await cli(['db', 'copy', 'postgres://u:pw@127.0.0.1/x'], { MCP_OAUTH_DATA_DIR: dataDir });
    expect(argv.code).not.toBe(0);
    expect(argv.err).not.toContain('pw@');
  });

  it('names an unreachable target without its password', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-copy-'));
    dirs.push(dataDir);
    const lite = sqliteEngine(openDatabase(path.join(dataDir, 'mcp-oauth.sqlite')));
    await migrate(lite);
    await lite.close();
    const result = await cli(['db', 'copy'], {
      MCP_OAUTH_DATA_DIR: dataDir,
      // Port 1 on loopback: nothing listens there.
      MCP_OAUTH_DATABASE_URL: 'postgres://app:Hidden-Pw-42@127.0.0.1:1/mcp',
      MCP_OAUTH_DATABASE_CONNECT_TIMEOUT: '5s',
    });
    expect(result.code).toBe(1);
    expect(result.err).toContain('cannot prepare PostgreSQL postgres://app@127.0.0.1:1/mcp:');
    expect(result.err).not.toContain('Hidden-Pw-42');
    expect(result.out).toBe('');
  });
});
