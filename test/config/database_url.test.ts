// MCP_OAUTH_DATABASE_URL (or _FILE): picks PostgreSQL, is checked at start, and its password shows
// up in no error, log line or CLI message.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { describeDatabase } from '../../src/storage/open.js';

const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-dburl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = { MCP_OAUTH_DATA_DIR: dir };
const SECRET = 'Pw-9c1e-not-for-logs';

function configError(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env });
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('MCP_OAUTH_DATABASE_URL', () => {
  it('is unset by default: SQLite under the data directory', () => {
    const config = loadConfig(base);
    expect(config.databaseUrl).toBeUndefined();
    expect(describeDatabase(config)).toBe(`SQLite ${path.join(dir, 'mcp-oauth.sqlite')}`);
  });

  it('is read from the variable or from the file _FILE names, with pool settings', () => {
    const url = `postgres://app:${SECRET}@db.internal:5432/mcp?sslmode=verify-full&sslrootcert=/etc/ca.pem`;
    const file = path.join(dir, 'url');
    writeFileSync(file, `${url}\n`);
    expect(loadConfig({ ...base, MCP_OAUTH_DATABASE_URL: url }).databaseUrl).toBe(url);
    const config = loadConfig({ ...base, MCP_OAUTH_DATABASE_URL_FILE: file, MCP_OAUTH_DATABASE_POOL_SIZE: '25' });
    expect(config.databaseUrl).toBe(url);
    expect(config.databasePoolSize).toBe(25);
    expect(config.databaseConnectTimeout).toBe(10);
    expect(describeDatabase(config)).toBe('PostgreSQL postgres://app@db.internal:5432/mcp');
  });

  it('refuses what is not a postgres URL, without repeating the value', () => {
    for (const bad of [`mysql://app:${SECRET}@db/mcp`, `postgres://app:${SECRET}@db`, `not a url ${SECRET}`]) {
      const message = configError({ MCP_OAUTH_DATABASE_URL: bad });
      expect(message).toContain(
        'MCP_OAUTH_DATABASE_URL (or MCP_OAUTH_DATABASE_URL_FILE) must be a URL like postgres://',
      );
      expect(message).not.toContain(SECRET);
    }
    expect(configError({ MCP_OAUTH_DATABASE_URL: 'postgres://a@b/c', MCP_OAUTH_DATABASE_URL_FILE: '/x' })).toContain(
      'MCP_OAUTH_DATABASE_URL and MCP_OAUTH_DATABASE_URL_FILE are both set',
    );
  });

  it('accepts a Unix socket given as ?host=', () => {
    const url = 'postgresql:///mcp?host=/var/run/postgresql&user=app';
    expect(loadConfig({ ...base, MCP_OAUTH_DATABASE_URL: url }).databaseUrl).toBe(url);
  });
});
