// `mcp-oauth backup` against a running server that keeps writing: the copy opens, passes its
// integrity check, holds the rows, is owner-only, and is never put over an existing file without
// --force.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { cliFor } from '../support/cli.js';
import { PUBLIC_CLIENT, register } from '../support/oauth.js';
import { testEngine } from '../support/postgres.js';

let s: TestServer;
let out: string;

beforeAll(async () => {
  s = await startTestServer();
  await s.addUser('alice', 'correct horse battery', { admin: true });
  await s.addResource('https://mcp.example.com/mcp', 'Orders');
  out = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-backup-'));
});

afterAll(async () => {
  await s.close();
  rmSync(out, { recursive: true, force: true });
});

// The backup is a SQLite file: read it with better-sqlite3 itself.
const count = (file: string, table: string) => {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  // Registered agents are oidc-provider Client rows.
  const from = table === 'clients' ? "oidc_models WHERE model = 'Client'" : table;
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${from}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe('mcp-oauth backup', () => {
  it.skipIf(testEngine() === 'postgres')(
    'copies the database consistently while the server registers agents (SQLite only: PostgreSQL is backed up with pg_dump)',
    async () => {
      const cli = cliFor(s.dataDir);
      const target = path.join(out, 'live.sqlite');
      // Agents keep registering (each one a write) before, during and after the backup.
      let writing = true;
      let registered = 0;
      const writer = (async () => {
        while (writing) {
          await register(s.url, { ...PUBLIC_CLIENT, client_name: `agent ${registered}` });
          registered += 1;
        }
      })();
      await expect.poll(() => registered, { timeout: 10_000 }).toBeGreaterThan(3);
      const result = await cli.run(['backup', target]);
      const atBackup = registered;
      await expect.poll(() => registered, { timeout: 10_000 }).toBeGreaterThan(atBackup + 3);
      writing = false;
      await writer;

      expect(result.err).toBe('');
      expect(result.code).toBe(0);
      expect(result.out).toContain(`to ${target}`);
      expect(result.out).toMatch(/size: [\d.]+ (bytes|KiB|MiB) \(\d+ bytes\)/);
      expect(result.out).toContain('integrity check: ok');

      const copy = new Database(target, { readonly: true, fileMustExist: true });
      try {
        expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
        // One self-contained file: no WAL needed to read it.
        expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
      } finally {
        copy.close();
      }
      expect(count(target, 'users')).toBe(1);
      expect(count(target, 'resources')).toBe(1);
      const clients = count(target, 'clients');
      // Between the agents registered when the backup started and those registered after it.
      expect(clients).toBeGreaterThanOrEqual(4);
      expect(clients).toBeLessThanOrEqual(atBackup + 1);
      expect(count(s.config.databaseFile, 'clients')).toBe(registered);
      expect(statSync(target).mode & 0o777).toBe(0o600);
      expect(readdirSync(out)).toEqual(['live.sqlite']);
    },
  );

  it.skipIf(testEngine() === 'postgres')(
    'refuses to overwrite an existing file unless --force (SQLite only: PostgreSQL is backed up with pg_dump)',
    async () => {
      const cli = cliFor(s.dataDir);
      const target = path.join(out, 'existing.sqlite');
      writeFileSync(target, 'precious');
      const refused = await cli.run(['backup', target]);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/^mcp-oauth: .*exists; pass --force to replace it\n$/);
      expect(readFileSync(target, 'utf8')).toBe('precious');

      const forced = await cli.run(['backup', '--force', target]);
      expect(forced.code).toBe(0);
      expect(count(target, 'users')).toBe(1);
      expect(readdirSync(out).filter((f) => f.includes('partial'))).toEqual([]);
    },
  );

  it.skipIf(testEngine() === 'postgres').each([
    ['a directory that does not exist', () => path.join(out, 'missing', 'x.sqlite'), /directory .* does not exist/],
    ['the database itself', () => s.config.databaseFile, /must not be the database itself/],
  ])('refuses %s (SQLite only: PostgreSQL is backed up with pg_dump)', async (_, target, message) => {
    const result = await cliFor(s.dataDir).run(['backup', target()]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(message);
  });

  it.runIf(testEngine() === 'postgres')('on PostgreSQL, refuses and names pg_dump', async () => {
    const result = await cliFor(s.dataDir).run(['backup', path.join(out, 'pg.sqlite')]);
    expect(result).toEqual({
      code: 1,
      out: '',
      err: 'mcp-oauth: backup copies the SQLite database; on PostgreSQL use pg_dump (docs/storage.md)\n',
    });
    expect(readdirSync(out)).toEqual([]);
  });

  it('says so when there is no database to copy', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-nodb-'));
    try {
      const result = await cliFor(empty).run(['backup', path.join(out, 'none.sqlite')]);
      expect(result.code).toBe(1);
      expect(result.err).toMatch(/no database at .*MCP_OAUTH_DATA_DIR/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
