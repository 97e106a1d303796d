// The counters behind the request limits, the sign-in back-off and the device-flow pace
// (src/storage/throttles.ts): atomic under concurrent writers, including two engines ("nodes") on
// one database, and the sign-in back-off counted across nodes (two throttles, one database).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/db.js';
import { type Sql, sqliteEngine } from '../../src/storage/engine.js';
import { postgresEngine } from '../../src/storage/engine_pg.js';
import { migrate } from '../../src/storage/migrate.js';
import { createThrottleRepository } from '../../src/storage/throttles.js';
import { createLoginThrottle } from '../../src/web/rate_limit.js';
import { createTestDatabase, postgresForTests, testEngine } from '../support/postgres.js';

const engine = testEngine();
if (engine === 'postgres') await postgresForTests();

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * The databases of two nodes of a cluster: on PostgreSQL two engines (two pools) on one database.
 * SQLite serves one node (one process, one connection: a second connection in the same process
 * would wait on the first one's transaction while blocking the event loop), so there both "nodes"
 * share the engine, and what is checked is that the counts live in the database, not in each
 * throttle's memory.
 */
async function twoNodes(): Promise<[Sql, Sql]> {
  if (engine === 'postgres') {
    const database = await createTestDatabase();
    const a = postgresEngine({ url: database.url, poolSize: 4 });
    const b = postgresEngine({ url: database.url, poolSize: 4 });
    cleanups.push(async () => {
      await a.close();
      await b.close();
      await database.drop();
    });
    return [a, b];
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-throttles-'));
  const a = sqliteEngine(openDatabase(path.join(dir, 'mcp-oauth.sqlite')));
  cleanups.push(async () => {
    await a.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await migrate(a);
  return [a, a];
}

const LIMITS = { perUserAndAddress: 3, perAddress: 50, perUser: 20, firstBlock: 60, maxBlock: 900, window: 3600 };

describe(`throttle counters (${engine})`, () => {
  it('counts in a fixed window that starts over once it has expired', async () => {
    const [sql] = await twoNodes();
    const t = createThrottleRepository(sql);
    expect(await t.consume('k', 1, 1000, 10_000)).toEqual({ points: 1, expiresMs: 11_000 });
    expect(await t.consume('k', 1, 1000, 10_500)).toEqual({ points: 2, expiresMs: 11_000 });
    expect(await t.get('k', 10_999)).toEqual({ points: 2, expiresMs: 11_000 });
    expect(await t.get('k', 11_000)).toBeUndefined();
    expect(await t.consume('k', 1, 1000, 11_000)).toEqual({ points: 1, expiresMs: 12_000 });
  });

  it('never counts below zero, and an expired count starts from nothing', async () => {
    const [sql] = await twoNodes();
    const t = createThrottleRepository(sql);
    expect(await t.adjust('f', 1, 5000, 0)).toBe(1);
    expect(await t.adjust('f', -1, 5000, 0)).toBe(0);
    expect(await t.adjust('f', -1, 5000, 0)).toBe(0);
    expect(await t.adjust('f', 1, 5000, 0)).toBe(1);
    expect(await t.adjust('f', 1, 9000, 5000)).toBe(1);
  });

  it('paces a device code: early polls slow down by 5 s each, on time ones pass', async () => {
    const [sql] = await twoNodes();
    const t = createThrottleRepository(sql);
    const opts = { initial: 5, step: 5, forgetAtMs: 600_000 };
    expect(await t.devicePoll('h', 0, opts)).toEqual({ slowed: false, interval: 5 });
    expect(await t.devicePoll('h', 1000, opts)).toEqual({ slowed: true, interval: 10 });
    expect(await t.devicePoll('h', 6000, opts)).toEqual({ slowed: true, interval: 15 });
    expect(await t.devicePoll('h', 21_000, opts)).toEqual({ slowed: false, interval: 15 });
    expect(await t.purgeExpired(600_000)).toBe(1);
    expect(await t.devicePoll('h', 600_001, { ...opts, forgetAtMs: 1_200_000 })).toEqual({
      slowed: false,
      interval: 5,
    });
  });

  it('loses no count when two nodes count the same key at once', async () => {
    const [a, b] = await twoNodes();
    const ta = createThrottleRepository(a);
    const tb = createThrottleRepository(b);
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? ta : tb).consume('shared', 1, 60_000, 1000)));
    expect((await ta.get('shared', 1000))?.points).toBe(40);
  });
});

describe(`sign-in back-off across nodes (${engine})`, () => {
  it('blocks a guesser whose failures are spread over two nodes', async () => {
    const [a, b] = await twoNodes();
    let now = 1_000_000;
    const clock = () => now;
    const nodes = [a, b].map((sql) => createLoginThrottle(LIMITS, createThrottleRepository(sql), clock));
    // Three free failures for one username at one address, alternating nodes.
    for (let i = 0; i < 3; i++) {
      const attempt = await nodes[i % 2]?.begin('alice', '203.0.113.9');
      expect(attempt?.retryAfter).toBe(0);
      expect(await attempt?.failed()).toEqual([]);
    }
    const fourth = await nodes[1]?.begin('alice', '203.0.113.9');
    expect(fourth?.retryAfter).toBe(0);
    expect(await fourth?.failed()).toEqual([{ scope: 'user_from_address', failures: 4, blockSeconds: 60 }]);
    // Blocked on both nodes, whichever the balancer picks.
    for (const node of nodes) expect((await node.begin('alice', '203.0.113.9')).retryAfter).toBe(60);
    now += 61_000;
    const after = await nodes[0]?.begin('alice', '203.0.113.9');
    expect(after?.retryAfter).toBe(0);
    await after?.release();
  });

  it('counts checks in progress on other nodes: a parallel burst gets no extra guesses', async () => {
    const [a, b] = await twoNodes();
    const nodes = [a, b].map((sql) => createLoginThrottle(LIMITS, createThrottleRepository(sql)));
    // perUserAndAddress = 3: three checks may run at once for one username at one address.
    const started = await Promise.all(Array.from({ length: 8 }, (_, i) => nodes[i % 2]?.begin('bob', '198.51.100.7')));
    const admitted = started.filter((s) => s?.retryAfter === 0);
    expect(admitted).toHaveLength(3);
    for (const s of admitted) await s?.release();
    const again = await nodes[0]?.begin('bob', '198.51.100.7');
    expect(again?.retryAfter).toBe(0);
    await again?.release();
  });
});
