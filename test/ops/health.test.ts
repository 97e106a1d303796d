// /healthz and /readyz on the real app over real HTTP: what they answer when all is well, and that
// readiness fails (503, no detail leaked) when the database refuses writes, is locked, has a schema
// this build does not expect, or the provider lost its signing key.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { sqliteHandle } from '../support/storage.js';

let s: TestServer;

beforeEach(async () => {
  s = await startTestServer();
});

afterEach(async () => {
  await s.close();
});

async function get(path: string, init?: RequestInit) {
  const res = await fetch(`${s.url}${path}`, init);
  return { res, body: res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text() };
}

const probeRow = async () =>
  (await s.sql.get('SELECT count(*) AS n, max(checked_at) AS at FROM health_check')) as { n: number; at: number };

describe('GET /healthz', () => {
  it('answers 200 {"status":"ok"}, not cached', async () => {
    const { res, body } = await get('/healthz');
    expect(res.status).toBe(200);
    expect(body).toEqual({ status: 'ok' });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('refuses other methods with 405', async () => {
    const { res } = await get('/healthz', { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('GET /readyz', () => {
  it('answers 200 with every check ok, and proves the write with one row rewritten in place', async () => {
    const { res, body } = await get('/readyz');
    expect(res.status).toBe(200);
    expect(body).toEqual({ status: 'ok', checks: { database: 'ok', signing_key: 'ok', migrations: 'ok' } });
    expect(res.headers.get('cache-control')).toBe('no-store');
    await s.sql.run('UPDATE health_check SET checked_at = 0');
    for (let i = 0; i < 5; i++) expect((await get('/readyz')).res.status).toBe(200);
    // Written (checked_at moved from 0) and never more than one row however often it is probed.
    expect((await probeRow()).n).toBe(1);
    expect((await probeRow()).at).toBeGreaterThan(0);
  });

  it('fails with 503 when the database refuses writes', async () => {
    // SQLite's own switch for a database that refuses writes.
    sqliteHandle(s.sql).pragma('query_only = ON');
    const { res, body } = await get('/readyz');
    expect(res.status).toBe(503);
    expect(body).toEqual({ status: 'unavailable', checks: { database: 'fail', signing_key: 'ok', migrations: 'ok' } });
    expect(JSON.stringify(body)).not.toMatch(/sqlite|readonly|error/i);
    // Liveness is not readiness: the process still answers.
    expect((await get('/healthz')).res.status).toBe(200);
    sqliteHandle(s.sql).pragma('query_only = OFF');
    expect((await get('/readyz')).res.status).toBe(200);
  });

  it('fails with 503 when another process holds the write lock', async () => {
    const other = new Database(s.config.databaseFile);
    try {
      other.exec('BEGIN EXCLUSIVE');
      const { res, body } = await get('/readyz');
      expect(res.status).toBe(503);
      expect(body).toMatchObject({ checks: { database: 'fail' } });
      other.exec('ROLLBACK');
    } finally {
      other.close();
    }
    expect((await get('/readyz')).res.status).toBe(200);
  });

  it('fails with 503 when the schema is not the one this build expects', async () => {
    await s.sql.run('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)', [
      9999,
      'from_a_newer_release',
      'x',
      0,
    ]);
    const { res, body } = await get('/readyz');
    expect(res.status).toBe(503);
    expect(body).toEqual({ status: 'unavailable', checks: { database: 'ok', signing_key: 'ok', migrations: 'fail' } });
  });

  it('fails with 503 when the provider has no key to sign with', async () => {
    // Every key still pending (published, verify-only) and the provider rebuilt from that set.
    await s.sql.run('UPDATE signing_keys SET activates_at = 4102444800');
    expect(await s.app.reloadKeysIfChanged()).toBe(true);
    const { res, body } = await get('/readyz');
    expect(res.status).toBe(503);
    expect(body).toMatchObject({ status: 'unavailable', checks: { signing_key: 'fail', database: 'ok' } });
  });

  it('is answered before anything that could refuse it, with no cookie or session', async () => {
    const { res } = await get('/readyz', { headers: { origin: 'https://evil.example', cookie: 'x=y' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toBeNull();
  });
});
