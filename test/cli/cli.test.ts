import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { migrate, migrationsFor, readMigrations } from '../../src/storage/migrate.js';
import { createOidcStore } from '../../src/storage/oidc_adapter.js';
import { cliFor, databaseFile, tempDataDir } from '../support/cli.js';
import { testEngine } from '../support/postgres.js';
import { openTestStorage } from '../support/storage.js';

describe('command line', () => {
  it('prints help on stdout with exit 0', async () => {
    const result = await cliFor().run(['--help']);
    expect(result.code).toBe(0);
    expect(result.err).toBe('');
    expect(result.out).toMatch(/^Usage: mcp-oauth \[options\] \[command\]\n/);
    for (const command of ['serve', 'users', 'resources', 'clients', 'keys', 'grants', 'audit', 'migrate', 'purge']) {
      expect(result.out).toMatch(new RegExp(`\\n  ${command} `));
    }
  });

  it.each([
    [['user'], "unknown command 'user' (Did you mean users?)"],
    [['users', 'list', 'extra'], "too many arguments for 'list'. Expected 0 arguments but got 1."],
    [['users', 'add'], "missing required argument 'username'"],
    [['users', 'list', '--bogus'], "unknown option '--bogus'"],
  ])('reports the usage error %j on one line with exit 1', async (argv, message) => {
    const cli = cliFor();
    expect(await cli.run(argv)).toEqual({ code: 1, out: '', err: `mcp-oauth: ${message}\n` });
  });

  it('names the environment variable of a bad setting and touches nothing', async () => {
    const cli = cliFor(tempDataDir());
    const result = await cli.run(['users', 'list'], { env: { MCP_OAUTH_PORT: 'abc' } });
    expect(result).toEqual({
      code: 1,
      out: '',
      err: 'mcp-oauth: MCP_OAUTH_PORT must be a port number from 1 to 65535\n',
    });
    expect(existsSync(databaseFile(cli.dataDir))).toBe(false);
  });

  it('reports a bad duration setting by its variable', async () => {
    const result = await cliFor().run(['migrate'], { env: { MCP_OAUTH_ACCESS_TOKEN_TTL: 'forever' } });
    expect(result).toEqual({
      code: 1,
      out: '',
      err: 'mcp-oauth: MCP_OAUTH_ACCESS_TOKEN_TTL must be a duration like 300, 300s, 5m, 12h or 30d\n',
    });
  });
});

describe('migrate', () => {
  it('applies every migration once, then reports the database up to date', async () => {
    const cli = cliFor(tempDataDir());
    const names = readMigrations().map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`);
    expect(names.length).toBeGreaterThan(0);
    expect(await cli.run(['migrate'])).toEqual({
      code: 0,
      out: names.map((n) => `applied ${n}\n`).join(''),
      err: `mcp-oauth: created a new database at ${databaseFile(cli.dataDir)} (from MCP_OAUTH_DATA_DIR)\n`,
    });
    expect(await cli.run(['migrate'])).toEqual({ code: 0, out: 'database is up to date\n', err: '' });
  });

  it('refuses a database on which an edited migration was applied, for every command', async () => {
    const edited = tempDataDir();
    // The migrations of the engine under test (PostgreSQL has its own schema files).
    cpSync(migrationsFor(testEngine()), edited, { recursive: true });
    const first =
      readdirSync(edited)
        .filter((f) => f.endsWith('.sql'))
        .sort()[0] ?? '';
    writeFileSync(path.join(edited, first), `${readFileSync(path.join(edited, first), 'utf8')}\n-- edited\n`);
    const cli = cliFor(tempDataDir());
    const storage = await openTestStorage(cli.dataDir, { migrate: false });
    await migrate(storage.sql, edited);
    // Only the connection: on PostgreSQL the opening that created the database would drop it.
    await storage.sql.close();

    const message = `mcp-oauth: migration ${first} was edited after it was applied (checksum mismatch); restore the original file\n`;
    expect(await cli.run(['migrate'])).toEqual({ code: 1, out: '', err: message });
    expect(await cli.run(['users', 'list'])).toEqual({ code: 1, out: '', err: message });
  });

  it('refuses a database migrated by a newer release', async () => {
    const cli = cliFor();
    await cli.run(['migrate']);
    await cli.withSql((sql) =>
      sql.run("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, 'future', 'x', 0)"),
    );
    expect(await cli.run(['migrate'])).toEqual({
      code: 1,
      out: '',
      err: 'mcp-oauth: database has migration 9999_future that this version does not know; it was written by a newer release\n',
    });
  });
});

describe('purge', () => {
  it('deletes expired provider rows and keeps live ones and clients', async () => {
    const cli = cliFor();
    const past = epochSeconds() - 120;
    await cli.withSql(async (sql) => {
      const store = createOidcStore(sql, () => past * 1000);
      await store.upsert('Client', 'agent', { client_id: 'agent' }, undefined);
      await store.upsert('AuthorizationCode', 'old-code', { clientId: 'agent' }, 60);
      await store.upsert('Session', 'old-session', { uid: 'u1' }, 60);
      await store.upsert('RefreshToken', 'live-token', { clientId: 'agent' }, 3600);
    });
    expect(await cli.run(['purge'])).toEqual({
      code: 0,
      out:
        'purged 2 expired provider rows and 0 expired signing keys\n' +
        'purged 0 expired revocation-feed entries and 0 audit events older than 90 days\n',
      err: '',
    });
    const left = await cli.withSql((sql) => sql.all('SELECT model FROM oidc_models ORDER BY model'));
    expect(left).toEqual([{ model: 'Client' }, { model: 'RefreshToken' }]);
  });
});

describe('ids that start with a dash', () => {
  it('explains how to pass them, and they work after --', async () => {
    const cli = cliFor();
    const refused = await cli.run(['grants', 'revoke', '-Abc123']);
    expect(refused.code).toBe(1);
    expect(refused.err).toBe("mcp-oauth: unknown option '-Abc123' (an id that starts with '-' goes after --)\n");
    const passed = await cli.run(['grants', 'revoke', '--', '-Abc123']);
    expect(passed.err).toBe('mcp-oauth: no grant "-Abc123"\n');
  });
});
