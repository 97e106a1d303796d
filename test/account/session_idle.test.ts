// Account and admin page sessions end after MCP_OAUTH_CONSOLE_IDLE_TIMEOUT without use, besides
// their absolute lifetime (MCP_OAUTH_SESSION_TTL). Time passes by ageing the stored session row
// (moving every timestamp of it into the past), never by waiting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { epochSeconds } from '../../src/lib/duration.js';
import { serverWithUsers, signedInClient, type WebClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';

const IDLE = 600;
const TTL = 7200;

interface Row {
  id_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
}

describe('page session idle timeout', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWithUsers({
      MCP_OAUTH_CONSOLE_IDLE_TIMEOUT: String(IDLE),
      MCP_OAUTH_SESSION_TTL: String(TTL),
    });
  });
  afterAll(() => server.close());

  const userId = async (name: string) => (await server.app.stores.users.findByUsername(name))?.id ?? '';
  const rowOf = async (name: string) =>
    (await server.sql.get('SELECT * FROM web_sessions WHERE user_id = ?', [await userId(name)])) as Row | undefined;
  /** As if the session had been started, and last used, `seconds` earlier. */
  const age = async (name: string, seconds: number) =>
    await server.sql.run(
      'UPDATE web_sessions SET created_at = created_at - ?, expires_at = expires_at - ? WHERE user_id = ?',
      [seconds, seconds, await userId(name)],
    );

  async function fresh(name: string): Promise<WebClient> {
    await server.sql.run('DELETE FROM web_sessions WHERE user_id = ?', [await userId(name)]);
    return signedInClient(server, name);
  }

  it('defaults to 30 minutes and refuses a setting out of range', () => {
    expect(loadConfig({}).consoleIdleTimeout).toBe(1800);
    expect(() => loadConfig({ MCP_OAUTH_CONSOLE_IDLE_TIMEOUT: '10' })).toThrow(/CONSOLE_IDLE_TIMEOUT/);
  });

  it('stores the idle deadline at sign-in, not the whole lifetime', async () => {
    const before = epochSeconds();
    await fresh('alice');
    const row = (await rowOf('alice')) as Row;
    expect(row.expires_at).toBeGreaterThanOrEqual(before + IDLE);
    expect(row.expires_at).toBeLessThanOrEqual(epochSeconds() + IDLE);
  });

  it('ends a session left unused for longer than the idle timeout, on the account and the admin pages', async () => {
    const alice = await fresh('alice');
    await age('alice', IDLE + 1);
    const res = await alice.get('/account');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account/login?next=%2Faccount');

    const root = await fresh('root');
    await age('root', IDLE + 1);
    const admin = await root.get('/admin');
    expect(admin.status).toBe(303);
    expect(admin.headers.get('location')).toBe('/account/login?next=%2Fadmin');
    const api = await root.get('/admin/api/grants', { accept: 'application/json' });
    expect(api.status).toBe(401);
  });

  it('moves the idle deadline forward on use, so an active session stays signed in', async () => {
    const alice = await fresh('alice');
    await age('alice', IDLE - 60);
    expect((await alice.get('/account')).status).toBe(200);
    const row = (await rowOf('alice')) as Row;
    expect(row.expires_at).toBeGreaterThanOrEqual(epochSeconds() + IDLE - 1);
    // Another idle period after that use would have ended it; within it, it lives on.
    await age('alice', IDLE - 60);
    expect((await alice.get('/account')).status).toBe(200);
  });

  it('never moves the deadline past the absolute lifetime', async () => {
    const alice = await fresh('alice');
    // Started almost a whole lifetime ago, last used a moment ago.
    await server.sql.run('UPDATE web_sessions SET created_at = created_at - ? WHERE user_id = ?', [
      TTL - 100,
      await userId('alice'),
    ]);
    expect((await alice.get('/account')).status).toBe(200);
    const row = (await rowOf('alice')) as Row;
    expect(row.expires_at).toBe(row.created_at + TTL);
    // Past the lifetime, however recently used.
    await server.sql.run('UPDATE web_sessions SET created_at = created_at - 101 WHERE user_id = ?', [
      await userId('alice'),
    ]);
    expect((await alice.get('/account')).status).toBe(303);
  });
});
