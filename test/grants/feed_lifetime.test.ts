// A revocation-feed entry must outlive every access token issued before it, whoever writes it: the
// server records the longest lifetime it has signed with (raise-only, at start), and every
// revocation (the CLI in a shell with another MCP_OAUTH_ACCESS_TOKEN_TTL, or a server restarted
// with a shorter one) sizes its entry from the larger of that and its own setting, plus the leeway.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app/app.js';
import { loadConfig } from '../../src/config/index.js';
import { epochSeconds } from '../../src/lib/duration.js';
import { createLogger } from '../../src/log/logger.js';
import {
  createRevocationService,
  FEED_LEEWAY_SECONDS,
  type FeedEntry,
  SIGNED_TTL_SETTING,
} from '../../src/storage/revocations.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { cliFor } from '../support/cli.js';
import { openTestStorage, tempTestStorage } from '../support/storage.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const SERVER_TTL = 150;

describe('revocation-feed entries last as long as the longest-lived token', () => {
  let server: TestServer;
  let n = 0;
  beforeAll(async () => {
    server = await startTestServer({ MCP_OAUTH_ACCESS_TOKEN_TTL: String(SERVER_TTL) });
  });
  afterAll(() => server.close());

  const newGrant = async (): Promise<string> => {
    const id = `grant-${++n}`;
    await server.app.stores.grantRecords.saved(
      { id, accountId: 'acct', clientId: 'agent', resource: RESOURCE, scopes: ['mcp:read'], obtainedVia: 'consent' },
      epochSeconds(),
    );
    return id;
  };
  const entryFor = async (id: string): Promise<FeedEntry> => {
    const entry = (await server.app.stores.revocations.feedAfter(0, epochSeconds(), 5000)).find(
      (e) => e.subject === id,
    );
    if (!entry) throw new Error(`no feed entry for ${id}`);
    return entry;
  };
  const lifetime = (e: FeedEntry) => e.expiresAt - e.before;
  const stored = async () =>
    ((await server.sql.get('SELECT value FROM settings WHERE name = ?', [SIGNED_TTL_SETTING])) as { value: string })
      .value;

  it('the server records the lifetime it signs with before it signs', async () => {
    expect(await stored()).toBe(String(SERVER_TTL));
  });

  it.each([
    ['a shorter one', '30', SERVER_TTL],
    ['none (the 300s default, longer)', undefined, 300],
    ['one a second longer', String(SERVER_TTL + 1), SERVER_TTL + 1],
    ['the same', String(SERVER_TTL), SERVER_TTL],
  ])('grants revoke from a shell with %s: entry covers max(server, shell) + leeway', async (_, ttl, expected) => {
    const id = await newGrant();
    const env: Record<string, string> = ttl === undefined ? {} : { MCP_OAUTH_ACCESS_TOKEN_TTL: ttl };
    const result = await cliFor(server.dataDir).run(['grants', 'revoke', id], { env });
    expect(result).toMatchObject({ code: 0, out: `revoked grant ${id}\n` });
    expect(lifetime(await entryFor(id))).toBe(expected + FEED_LEEWAY_SECONDS);
  });

  it('user and agent revocations from the CLI are sized the same way', async () => {
    const cli = cliFor(server.dataDir);
    const env = { MCP_OAUTH_ACCESS_TOKEN_TTL: '30' };
    const agent = 'https://agent.example.com/client.json';
    expect((await cli.run(['clients', 'disable', agent], { env })).code).toBe(0);
    const dora = await server.addUser('dora', 'correct horse battery');
    expect((await cli.run(['users', 'disable', 'dora'], { env })).code).toBe(0);
    const feed = await server.app.stores.revocations.feedAfter(0, epochSeconds(), 5000);
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
    const storage = await openTestStorage(server.dataDir);
    try {
      const restarted = await buildApp(config, storage.sql, createLogger('silent'));
      expect(await stored()).toBe(String(SERVER_TTL));
      const id = await newGrant();
      expect(await restarted.stores.revocations.revokeGrant(id, 'cli', epochSeconds())).toBe(true);
      expect(lifetime(await entryFor(id))).toBe(SERVER_TTL + FEED_LEEWAY_SECONDS);
    } finally {
      await storage.close();
    }
  });

  it('a longer lifetime raises the record; with no record (no server ever started) a process uses its own', async () => {
    const { sql, close } = await tempTestStorage();
    try {
      const shell = createRevocationService(sql, { accessTokenTtl: 45 });
      expect(await shell.entryLifetime()).toBe(45 + FEED_LEEWAY_SECONDS);
      await shell.noteSigningTtl(3600);
      await shell.noteSigningTtl(3599);
      expect(await shell.entryLifetime()).toBe(3600 + FEED_LEEWAY_SECONDS);
      await shell.noteSigningTtl(3601);
      expect(await createRevocationService(sql, { accessTokenTtl: 30 }).entryLifetime()).toBe(
        3601 + FEED_LEEWAY_SECONDS,
      );
      // A value that is not a lifetime counts for nothing: the process's own setting still holds.
      await sql.run('UPDATE settings SET value = ? WHERE name = ?', ['junk', SIGNED_TTL_SETTING]);
      expect(await createRevocationService(sql, { accessTokenTtl: 30 }).entryLifetime()).toBe(30 + FEED_LEEWAY_SECONDS);
    } finally {
      await close();
    }
  });
});
