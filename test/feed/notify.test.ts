// The feed hub is woken by the commit of a revocation, not by its timer (docs/storage.md, "Several
// nodes"): with its poll an hour apart, an entry written through another connection to the same
// database (another node, on PostgreSQL; on SQLite, which serves one process, the same engine)
// reaches an open stream at once, and an entry rolled back never does.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFeedHub } from '../../src/app/revocation_feed.js';
import { createLogger } from '../../src/log/logger.js';
import { openDatabase } from '../../src/storage/db.js';
import { type Sql, sqliteEngine } from '../../src/storage/engine.js';
import { postgresEngine } from '../../src/storage/engine_pg.js';
import { migrate } from '../../src/storage/migrate.js';
import { createRevocationService } from '../../src/storage/revocations.js';
import { closeServer, revokeNewGrant, SseReader } from '../support/feed.js';
import { createTestDatabase, postgresForTests, testEngine } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';

const engine = testEngine();
if (engine === 'postgres') await postgresForTests();

const HOUR_MS = 3_600_000;

describe(`revocation feed hub woken by notifications (${engine})`, () => {
  let hubSql: Sql;
  let writerSql: Sql;
  let http: Server;
  let url: string;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    if (engine === 'postgres') {
      const database = await createTestDatabase();
      hubSql = postgresEngine({ url: database.url, poolSize: 2 });
      writerSql = postgresEngine({ url: database.url, poolSize: 2 });
      cleanups.push(
        () => hubSql.close(),
        () => writerSql.close(),
        () => database.drop(),
      );
    } else {
      const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-notify-'));
      hubSql = sqliteEngine(openDatabase(path.join(dir, 'mcp-oauth.sqlite')));
      await migrate(hubSql);
      writerSql = hubSql;
      cleanups.push(
        () => hubSql.close(),
        async () => rmSync(dir, { recursive: true, force: true }),
      );
    }
    const hub = createFeedHub(createRevocationService(hubSql, { accessTokenTtl: 300 }), createLogger('silent'), {
      pollMs: HOUR_MS,
    });
    http = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      hub.add(res, 0, 'test-credential').catch(() => res.destroy());
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    if (http) await closeServer(http);
    for (const c of cleanups.reverse()) await c();
  });

  it('sends an entry committed elsewhere at once, and nothing for a transaction rolled back', async () => {
    const ctrl = new AbortController();
    const sse = new SseReader(await fetch(`${url}/`, { signal: ctrl.signal }));
    try {
      await waitFor(() => sse.events.some((e) => e.retry !== undefined), 'the stream to open');
      const writer = createRevocationService(writerSql, { accessTokenTtl: 300 });
      await expect(
        writerSql.transaction(async () => {
          await revokeNewGrant(writerSql, writer);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      const grantId = await revokeNewGrant(writerSql, writer);
      await waitFor(() => sse.revocations().length > 0, 'the committed entry on the stream', { timeoutMs: 5000 });
      expect(sse.revocations()).toEqual([expect.objectContaining({ type: 'grant', grant_id: grantId })]);
    } finally {
      ctrl.abort();
    }
  });
});
