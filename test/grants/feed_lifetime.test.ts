// A revocation-feed entry must outlive every access token issued before it, whoever writes it: the
// server records the longest lifetime it has signed with (raise-only, at start), and every
// revocation (the CLI in a shell with another MCP_OAUTH_ACCESS_TOKEN_TTL, or a server restarted
// with a shorter one) sizes its entry from the larger of that and its own setting, plus the leeway.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app/app.js';
import { loadConfig } from '../../src/config/index.js';
import { epochSeconds } from '../../src/lib/duration.js';
import { createLogger } from '../../src/log/logger.js';
import { openDatabase } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrate.js';
import {
  createRevocationService,
  FEED_LEEWAY_SECONDS,
  type FeedEntry,
  SIGNED_TTL_SETTING,
} from '../../src/storage/revocations.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { cliFor } from '../support/cli.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const SERVER_TTL = 150;

describe('revocation-feed entries last as long as the longest-lived token', () => {
  let server: TestServer;
  let n = 0;
  beforeAll(async () => {
    server = await startTestServer({ MCP_OAUTH_ACCESS_TOKEN_TTL: String(SERVER_TTL) });
  });
  afterAll(() => server.close());

  const newGrant = (): string => {
    const id = `grant-${++n}`;
    server.app.stores.grantRecords.saved(
      { id, accountId: 'acct', clientId: 'agent', resource: RESOURCE, scopes: ['mcp:read'], obtainedVia: 'consent' },
      epochSeconds(),
    );
    return id;
  };
  const entryFor = (id: string): FeedEntry => {
    const entry = server.app.stores.revocations.feedAfter(0, epochSeconds(), 5000).find((e) => e.subject === id);
    if (!entry) throw new Error(`no feed entry for ${id}`);
    return entry;
  };
  const lifetime = (e: FeedEntry) => e.expiresAt - e.before;
  const stored = () =>
    (server.db.prepare('SELECT value FROM settings WHERE name = ?').get(SIGNED_TTL_SETTING) as { value: string }).value;

  it('the server records the lifetime it signs with before it signs', () => {
    expect(stored()).toBe(String(SERVER_TTL));
  });

  it.each([
    ['a shorter one', '30', SERVER_TTL],
    ['none (the 300s default, longer)', undefined, 300],
    ['one a second longer', String(SERVER_TTL + 1), SERVER_TTL + 1],
    ['the same', String(SERVER_TTL), SERVER_TTL],
  ])('grants revoke from a shell with %s: entry covers max(server, shell) + leeway', async (_, ttl, expected) => {
    const id = newGrant();
    const env: Record<string, string> = ttl === undefined ? {} : { MCP_OAUTH_ACCESS_TOKEN_TTL: ttl };
    const result = await cliFor(server.dataDir).run(['grants', 'revoke', id], { env });
    expect(result).toMatchObject({ code: 0, out: `revoked grant ${id}\n` });
    expect(lifetime(entryFor(id))).toBe(expected + FEED_LEEWAY_SECONDS);
  });

  it('user and agent revocations from the CLI are sized the same way', async () => {
    const cli = cliFor(server.dataDir);
    const env = { MCP_OAUTH_ACCESS_TOKEN_TTL: '30' };
    const agent = 'https://agent.example.com/client.json';
    expect((await cli.run(['clients', 'disable', agent], { env })).code).toBe(0);
    const dora = await server.addUser('dora', 'correct horse battery');
    expect((await cli.run(['users', 'disable', 'dora'], { env })).code).toBe(0);
    const feed = server.app.stores.revocations.feedAfter(0, epochSeconds(), 5000);
    for (const [kind, subject] of [
      ['client', agent],
      ['user', dora.id],
    ]) {
      const entry = feed.find((e) => e.kind === kind && e.subject === subject);
      expect(entry && lifetime(entry)).toBe(SERVER_TTL + FEED_LEEWAY_SECONDS);
    }
  });

  it('a restart with a shorter lifetime neither lowers the record nor shortens entries', async () => {
    const config = loadConfig({ MCP_OAUTH_DATA_DIR: server.dataDir, MCP_OAUTH_ACCESS_TOKEN_TTL: '60' });
    const db = openDatabase(config.databaseFile);
    try {
      migrate(db);
      const restarted = await buildApp(config, db, createLogger('silent'));
      expect(stored()).toBe(String(SERVER_TTL));
      const id = newGrant();
      expect(restarted.stores.revocations.revokeGrant(id, 'cli', epochSeconds())).toBe(true);
      expect(lifetime(entryFor(id))).toBe(SERVER_TTL + FEED_LEEWAY_SECONDS);
    } finally {
      db.close();
    }
  });

  it('a longer lifetime raises the record; with no record (no server ever started) a process uses its own', () => {
    const db = openDatabase(':memory:');
    try {
      migrate(db);
      const shell = createRevocationService(db, { accessTokenTtl: 45 });
      expect(shell.entryLifetime()).toBe(45 + FEED_LEEWAY_SECONDS);
      shell.noteSigningTtl(3600);
      shell.noteSigningTtl(3599);
      expect(shell.entryLifetime()).toBe(3600 + FEED_LEEWAY_SECONDS);
      shell.noteSigningTtl(3601);
      expect(createRevocationService(db, { accessTokenTtl: 30 }).entryLifetime()).toBe(3601 + FEED_LEEWAY_SECONDS);
      // A value that is not a lifetime counts for nothing: the process's own setting still holds.
      db.prepare('UPDATE settings SET value = ? WHERE name = ?').run('junk', SIGNED_TTL_SETTING);
      expect(createRevocationService(db, { accessTokenTtl: 30 }).entryLifetime()).toBe(30 + FEED_LEEWAY_SECONDS);
    } finally {
      db.close();
    }
  });
});
