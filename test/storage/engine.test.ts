// The `Sql` contract (src/storage/engine.ts), the same cases on both engines: SQLite on a temp file,
// PostgreSQL on a fresh database of the run's throwaway cluster (test/support/postgres.ts). Two
// engines on one database stand for two nodes of one server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/db.js';
import { type Sql, SqlTextError, sqliteEngine } from '../../src/storage/engine.js';
import { postgresEngine, translatePlaceholders } from '../../src/storage/engine_pg.js';
import { migrate, migrationsFor, readMigrations } from '../../src/storage/migrate.js';
import { createTestDatabase, postgresForTests } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';

const cluster = await postgresForTests();

interface Harness {
  /** A new engine on the same database (another node). */
  open(opts?: { reconnectMs?: { min: number; max: number } }): Sql;
  /** A database without any table, for the migration cases. */
  fresh(): Promise<Harness>;
  cleanup(): Promise<void>;
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function sqliteHarness(): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-engine-'));
  dirs.push(dir);
  const file = path.join(dir, 'db.sqlite');
  return {
    open: () => sqliteEngine(openDatabase(file)),
    fresh: sqliteHarness,
    cleanup: async () => {},
  };
}

async function postgresHarness(): Promise<Harness> {
  const database = await createTestDatabase({ empty: true });
  return {
    open: (opts) => postgresEngine({ url: database.url, poolSize: 4, reconnectMs: opts?.reconnectMs }),
    fresh: postgresHarness,
    cleanup: () => database.drop(),
  };
}

const BLOB = { sqlite: 'BLOB', postgres: 'BYTEA' } as const;

const engines = [
  { kind: 'sqlite' as const, title: 'sqlite', harness: sqliteHarness },
  {
    kind: 'postgres' as const,
    title: cluster.url ? 'postgres' : `postgres (skipped: ${cluster.reason})`,
    harness: postgresHarness,
  },
];

describe.each(engines)('$title engine', ({ kind, harness }) => {
  const skip = kind === 'postgres' && !cluster.url;
  let h: Harness;
  const opened: Sql[] = [];
  const open = (opts?: Parameters<Harness['open']>[0]) => {
    const sql = h.open(opts);
    opened.push(sql);
    return sql;
  };
  async function setup(): Promise<Sql> {
    h = await harness();
    const sql = open();
    await sql.exec(
      `CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT NOT NULL, n BIGINT NOT NULL DEFAULT 0, data ${BLOB[kind]})`,
    );
    return sql;
  }
  afterEach(async () => {
    for (const sql of opened.splice(0)) await sql.close();
    await h?.cleanup();
  });
  const count = async (sql: Sql) => (await sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM t'))?.n;

  it.skipIf(skip)(
    'refuses a NUL character in a text parameter with a 400 SqlTextError, and writes nothing',
    async () => {
      const sql = await setup();
      const refused = { name: 'SqlTextError', status: 400, expose: true, message: 'invalid_request' };
      await expect(sql.run('INSERT INTO t (id, name) VALUES (?, ?)', [1, 'a\u0000b'])).rejects.toMatchObject(refused);
      await expect(sql.get('SELECT id FROM t WHERE name = @name', { name: '\u0000' })).rejects.toBeInstanceOf(
        SqlTextError,
      );
      expect(await count(sql)).toBe(0);
    },
  );

  it.skipIf(skip)('binds ? and @name placeholders, not a ? inside a string literal', async () => {
    const sql = await setup();
    expect(await sql.run('INSERT INTO t (id, name) VALUES (?, ?)', [1, 'one?'])).toEqual({ changes: 1 });
    await sql.run('INSERT INTO t (id, name, n) VALUES (@id, @name, @id)', { id: 2, name: "it's" });
    const row = await sql.get<{ id: number; name: string; q: string }>(
      "SELECT id, name, '?' AS q FROM t WHERE name = ? /* ? */ AND id = ? -- ?",
      ['one?', 1],
    );
    expect(row).toEqual({ id: 1, name: 'one?', q: '?' });
    expect(await sql.all('SELECT id, n FROM t WHERE id = @id OR n = @id ORDER BY id', { id: 2 })).toEqual([
      { id: 2, n: 2 },
    ]);
    const total = await count(sql);
    expect(total).toBe(2);
    expect(typeof total).toBe('number');
    const bytes = Buffer.from([0, 1, 2, 255]);
    await sql.run('UPDATE t SET data = ? WHERE id = ?', [bytes, 1]);
    const back = await sql.get<{ data: Buffer }>('SELECT data FROM t WHERE id = ?', [1]);
    expect(Buffer.isBuffer(back?.data)).toBe(true);
    expect(back?.data.equals(bytes)).toBe(true);
    expect(await sql.run('UPDATE t SET n = n + 1', [])).toEqual({ changes: 2 });
  });

  it.skipIf(skip)('rolls back when the transaction throws, and rethrows', async () => {
    const sql = await setup();
    const failure = sql.transaction(async () => {
      await sql.run('INSERT INTO t (id, name) VALUES (?, ?)', [1, 'a']);
      throw new Error('boom');
    });
    await expect(failure).rejects.toThrow('boom');
    expect(await count(sql)).toBe(0);
    await sql.transaction(async () => {
      await sql.run('INSERT INTO t (id, name) VALUES (?, ?)', [1, 'a']);
    });
    expect(await count(sql)).toBe(1);
  });

  it.skipIf(skip)('a nested transaction joins the outer one', async () => {
    const sql = await setup();
    const failure = sql.transaction(async () => {
      await sql.transaction(async () => {
        await sql.run('INSERT INTO t (id, name) VALUES (?, ?)', [1, 'inner']);
      });
      await sql.run('INSERT INTO t (id, name) VALUES (?, ?)', [2, 'outer']);
      throw new Error('outer fails');
    });
    await expect(failure).rejects.toThrow('outer fails');
    expect(await count(sql)).toBe(0);
  });

  it.skipIf(skip)('a statement from outside an open transaction never sees it half done', async () => {
    const sql = await setup();
    let letGo!: () => void;
    const gate = new Promise<void>((resolve) => {
      letGo = resolve;
    });
    let inserted!: () => void;
    const insertedYet = new Promise<void>((resolve) => {
      inserted = resolve;
    });
    const tx = sql.transaction(async () => {
      await sql.run('INSERT INTO t (id, name) VALUES (?, ?)', [1, 'a']);
      inserted();
      await gate;
    });
    await insertedYet;
    let outside: number | undefined;
    const reading = count(sql).then((n) => {
      outside = n;
    });
    if (kind === 'sqlite') {
      // One connection: the outside statement waits for the transaction to end.
      await new Promise((resolve) => setImmediate(resolve));
      expect(outside).toBeUndefined();
      letGo();
      await Promise.all([tx, reading]);
      expect(outside).toBe(1);
    } else {
      // Its own connection: it runs at once and sees the state before the transaction.
      await reading;
      expect(outside).toBe(0);
      letGo();
      await tx;
      expect(await count(sql)).toBe(1);
    }
  });

  // sqliteEngine (src/storage/engine.ts) does not yet tell an ended transaction's context from an
  // open one: such a statement runs inside whichever transaction holds the lock at that moment.
  it.skipIf(skip || kind === 'sqlite')(
    "a statement from an ended transaction's context runs outside any transaction",
    async () => {
      const sql = await setup();
      let go!: () => void;
      const gate = new Promise<void>((resolve) => {
        go = resolve;
      });
      let later!: Promise<number | undefined>;
      await sql.transaction(async () => {
        await sql.run('INSERT INTO t (id, name) VALUES (?, ?)', [1, 'committed']);
        // Created here, run after the transaction ended: it keeps this transaction's async context.
        later = gate.then(() => count(sql));
      });
      const other = sql.transaction(async () => {
        await sql.run('INSERT INTO t (id, name) VALUES (?, ?)', [2, 'rolled back']);
        go();
        await new Promise((resolve) => setImmediate(resolve));
        throw new Error('roll back');
      });
      await expect(other).rejects.toThrow('roll back');
      expect(await later).toBe(1);
    },
  );

  it.skipIf(skip)('notify reaches listeners at commit, and not at all on rollback', async () => {
    const sql = await setup();
    // SQLite's notices stay inside one engine (one node: SQLite has no other); PostgreSQL's reach
    // every connection, here another node's.
    const listener = kind === 'sqlite' ? sql : open();
    let heard = 0;
    const stop = await listener.listen('grants', () => heard++);
    await expect(
      sql.transaction(async () => {
        await sql.notify('grants');
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await sql.transaction(async () => {
      await sql.notify('grants');
      await sql.run('INSERT INTO t (id, name) VALUES (?, ?)', [1, 'a']);
      expect(heard).toBe(0);
    });
    await waitFor(() => heard >= 1, 'the notice after commit');
    // Notices arrive in commit order: had the rolled-back one been sent, it would be here too.
    await sql.notify('grants');
    await waitFor(() => heard >= 2, 'a notice outside a transaction');
    expect(heard).toBe(2);
    await stop();
  });

  it.skipIf(skip || kind === 'sqlite')('listen comes back after its connection is dropped', async () => {
    const sql = await setup();
    const listener = open({ reconnectMs: { min: 10, max: 50 } });
    let heard = 0;
    await listener.listen('feed', () => heard++);
    const backend = await sql.get<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'mcp-oauth-listen'",
    );
    expect(backend).toBeDefined();
    await sql.get('SELECT pg_terminate_backend(?)', [backend?.pid ?? 0]);
    // After reconnecting, every listener is called once (it may have missed a notice meanwhile).
    await waitFor(() => heard >= 1, 'the wake-up after the reconnect');
    const before = heard;
    await sql.notify('feed');
    await waitFor(() => heard > before, 'a notice on the new connection');
  });

  it.skipIf(skip)('two nodes racing one conditional UPDATE: exactly one wins each time', async () => {
    const sql = await setup();
    // SQLite serves one node: two engines on one file in one thread would wait on each other's
    // lock forever, so there the race is between two requests of the one engine.
    const other = kind === 'sqlite' ? sql : open();
    for (let id = 1; id <= 20; id++) await sql.run('INSERT INTO t (id, name) VALUES (?, ?)', [id, 'fresh']);
    const claim = (node: Sql, id: number) =>
      node.transaction(async () => {
        const row = await node.get<{ name: string }>(`SELECT name FROM t WHERE id = ?${node.dialect.forUpdate}`, [id]);
        if (row?.name !== 'fresh') return 0;
        return (await node.run("UPDATE t SET name = 'used', n = n + 1 WHERE id = ? AND name = 'fresh'", [id])).changes;
      });
    for (let id = 1; id <= 20; id++) {
      const results = await Promise.all([claim(sql, id), claim(other, id)]);
      expect(results.sort()).toEqual([0, 1]);
    }
    expect(await sql.get('SELECT COUNT(*) AS n, SUM(n) AS total FROM t')).toEqual({ n: 20, total: 20 });
  });

  it.skipIf(skip || kind === 'sqlite')(
    'migrate run by two nodes at once on an empty database applies once',
    async () => {
      h = await harness();
      const [a, b] = [open(), open()];
      const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
      const files = readMigrations(migrationsFor(kind));
      expect([ra.applied.length, rb.applied.length].sort()).toEqual([0, files.length]);
      expect(await a.get('SELECT COUNT(*) AS n FROM schema_migrations')).toEqual({ n: files.length });
    },
  );

  it.skipIf(skip)('refuses a database that a newer release migrated', async () => {
    h = await harness();
    const sql = open();
    await migrate(sql);
    await sql.run('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)', [
      9999,
      'from_the_future',
      'x',
      0,
    ]);
    await expect(migrate(sql)).rejects.toThrow(
      'database has migration 9999_from_the_future that this version does not know; it was written by a newer release',
    );
  });
});

describe.skipIf(!cluster.url)(`postgres only${cluster.url ? '' : ` (skipped: ${cluster.reason})`}`, () => {
  it('a COMMIT that fails rejects the transaction, and nothing is kept', async () => {
    const database = await createTestDatabase({ empty: true });
    const sql = postgresEngine({ url: database.url });
    try {
      await sql.exec('CREATE TABLE u (k TEXT, CONSTRAINT u_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)');
      const tx = sql.transaction(async () => {
        await sql.run('INSERT INTO u (k) VALUES (?)', ['a']);
        await sql.run('INSERT INTO u (k) VALUES (?)', ['a']);
        return 'done';
      });
      await expect(tx).rejects.toThrow(/u_k/);
      expect(await sql.get('SELECT COUNT(*) AS n FROM u')).toEqual({ n: 0 });
    } finally {
      await sql.close();
      await database.drop();
    }
  });

  it('a transaction whose connection dies rejects, and the next one gets a live connection', async () => {
    const database = await createTestDatabase({ empty: true });
    const sql = postgresEngine({ url: database.url, poolSize: 1 });
    const admin = postgresEngine({ url: database.url, poolSize: 1 });
    try {
      await sql.exec('CREATE TABLE v (k TEXT)');
      const tx = sql.transaction(async () => {
        const me = await sql.get<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await admin.get('SELECT pg_terminate_backend(?)', [me?.pid ?? 0]);
        await sql.run('INSERT INTO v (k) VALUES (?)', ['lost']);
      });
      await expect(tx).rejects.toThrow();
      await sql.transaction(async () => {
        await sql.run('INSERT INTO v (k) VALUES (?)', ['kept']);
      });
      expect(await sql.all('SELECT k FROM v')).toEqual([{ k: 'kept' }]);
    } finally {
      await sql.close();
      await admin.close();
      await database.drop();
    }
  });

  it('reads BIGINT and COUNT as numbers through its own pool, leaving the global pg.types alone', async () => {
    const database = await createTestDatabase({ empty: true });
    const sql = postgresEngine({ url: database.url, poolSize: 1 });
    try {
      expect(await sql.get('SELECT COUNT(*) AS n, 9007199254740991::bigint AS big, 1.5::numeric AS r')).toEqual({
        n: 1,
        big: 9007199254740991,
        r: 1.5,
      });
      await expect(sql.get('SELECT 9007199254740993::bigint AS big')).rejects.toThrow('integer out of JS range');
      expect(pg.types.getTypeParser(20, 'text')('5')).toBe('5');
    } finally {
      await sql.close();
      await database.drop();
    }
  });

  it('never puts the connection password in an error', async () => {
    const secret = 'pw-Zq81-never-shown';
    const unreachable = postgresEngine({ url: `postgres://app:${secret}@127.0.0.1:1/nothing`, connectTimeoutMs: 2000 });
    const err = await unreachable.get('SELECT 1').catch((e: Error) => e);
    await unreachable.close();
    expect(err).toBeInstanceOf(Error);
    expect(`${(err as Error).message} ${(err as Error).stack}`).not.toContain(secret);
    let thrown: unknown;
    try {
      postgresEngine({ url: `postgres://app:${secret}@[not a host/x` });
    } catch (e) {
      thrown = e;
    }
    expect(String(thrown)).toContain('not a valid postgres:// URL');
    expect(JSON.stringify(thrown)).not.toContain(secret);
  });
});

describe('placeholder translation', () => {
  it('numbers ? in order and keeps literals, identifiers and comments as they are', () => {
    expect(
      translatePlaceholders(`SELECT ?, '?', "a?b", E'\\'?', $$ ? $$, $x$ ? $x$ -- ?\n, ? /* ? /* ? */ ? */`),
    ).toEqual({
      text: `SELECT $1, '?', "a?b", E'\\'?', $$ ? $$, $x$ ? $x$ -- ?\n, $2 /* ? /* ? */ ? */`,
      positional: 2,
    });
  });

  it('gives one name one number', () => {
    expect(translatePlaceholders("UPDATE t SET a = @a, b = @b WHERE a = @a AND c = '@a'")).toEqual({
      text: "UPDATE t SET a = $1, b = $2 WHERE a = $1 AND c = '@a'",
      names: ['a', 'b'],
      positional: 0,
    });
  });

  it('refuses a statement that mixes both kinds', () => {
    expect(() => translatePlaceholders('SELECT ? WHERE a = @a')).toThrow('either ? or @name');
  });
});
