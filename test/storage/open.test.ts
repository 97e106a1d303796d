// openStorage: PostgreSQL when the configuration has a database URL, else the SQLite file.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../src/storage/open.js';
import { createTestDatabase, postgresForTests } from '../support/postgres.js';

const cluster = await postgresForTests();
const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-open-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openStorage', () => {
  it('opens the SQLite file when no database URL is set', async () => {
    const databaseFile = path.join(dir, 'lite', 'mcp-oauth.sqlite');
    const sql = await openStorage({ databaseFile });
    try {
      expect(sql.kind).toBe('sqlite');
      expect(await sql.get('SELECT 1 AS one')).toEqual({ one: 1 });
      expect(existsSync(databaseFile)).toBe(true);
    } finally {
      await sql.close();
    }
  });

  it.skipIf(!cluster.url)(
    `opens PostgreSQL when the URL is set, and no SQLite file${cluster.url ? '' : ` (skipped: ${cluster.reason})`}`,
    async () => {
      const database = await createTestDatabase();
      const databaseFile = path.join(dir, 'pg', 'mcp-oauth.sqlite');
      const sql = await openStorage({
        databaseFile,
        databaseUrl: database.url,
        databasePoolSize: 2,
        databaseConnectTimeout: 5,
      });
      try {
        expect(sql.kind).toBe('postgres');
        expect(await sql.get('SELECT COUNT(*) AS n FROM users')).toEqual({ n: 0 });
        expect(existsSync(databaseFile)).toBe(false);
      } finally {
        await sql.close();
        await database.drop();
      }
    },
  );
});
