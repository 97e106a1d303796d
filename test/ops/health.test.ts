// /healthz and /readyz on the real app over real HTTP: what they answer when all is well, and that
// readiness fails (503, no detail leaked) when the database refuses writes, is locked, has a schema
// this build does not expect, or the provider lost its signing key.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { openTestStorage, sqliteHandle } from '../support/storage.js';
import { waitFor } from '../support/wait.js';

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

/**
 * Makes the server's database refuse writes. SQLite: its query_only switch on the server's own
 * connection. PostgreSQL: read-only transactions by default on the database, which a session takes
 * when it starts, so the server's pooled sessions are ended and come back read-only.
 */
async function refuseWrites(): Promise<{ undo(): Promise<void> }> {
  if (s.sql.kind === 'sqlite') {
    sqliteHandle(s.sql).pragma('query_only = ON');
    return { undo: async () => void sqliteHandle(s.sql).pragma('query_only = OFF') };
  }
  const other = await openTestStorage(s.dataDir);
  const name = (await other.sql.get<{ db: string }>('SELECT current_database() AS db'))?.db ?? '';
  const others = async () =>
    other.sql.get(
      'SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
  await other.sql.exec(`ALTER DATABASE "${name}" SET default_transaction_read_only = on`);
  await others();
  return {
    async undo() {
      // Read-write explicitly: this session may have been opened after the switch.
      await other.sql.transaction(() =>
        other.sql.exec(`SET TRANSACTION READ WRITE; ALTER DATABASE "${name}" RESET default_transaction_read_only`),
      );
      await others();
      await other.sql.close();
    },
  };
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
    const readOnly = await refuseWrites();
    try {
      const { res, body } = await waitFor(async () => {
        const got = await get('/readyz');
        return got.res.status === 503 ? got : undefined;
      }, 'readiness to fail');
      expect(res.status).toBe(503);
      expect(body).toEqual({
        status: 'unavailable',
        checks: { database: 'fail', signing_key: 'ok', migrations: 'ok' },
      });
      expect(JSON.stringify(body)).not.toMatch(/sqlite|postgres|readonly|read-only|error/i);
      // Liveness is not readiness: the process still answers.
      expect((await get('/healthz')).res.status).toBe(200);
    } finally {
      await readOnly.undo();
    }
    await waitFor(async () => (await get('/readyz')).res.status === 200, 'readiness to come back');
  });

  it('fails with 503 when another process holds the write lock', async () => {
    if (s.sql.kind === 'postgres') {
      // Another session holding a lock that conflicts with the probe's write.
      const other = await openTestStorage(s.dataDir);
      try {
        await other.sql.transaction(async () => {
          await other.sql.exec('LOCK TABLE health_check IN EXCLUSIVE MODE');
          const { res, body } = await get('/readyz');
          expect(res.status).toBe(503);
          expect(body).toMatchObject({ checks: { database: 'fail' } });
        });
      } finally {
        await other.sql.close();
      }
    } else {
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
