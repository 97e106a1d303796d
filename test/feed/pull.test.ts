import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import type { TestServer } from '../support/app.js';
import { basicAuth, type FeedFixture, newId, revokeNewGrant, startFeedServer } from '../support/feed.js';

interface Page {
  entries: Record<string, unknown>[];
  cursor: number;
  latest: number;
}

describe('revocation feed: pull endpoint', () => {
  let fx: FeedFixture;
  let server: TestServer;
  beforeAll(async () => {
    fx = await startFeedServer();
    server = fx.server;
  });
  afterAll(() => server.close());

  // `auth: null` sends no Authorization header (undefined would take the default).
  const get = async (query: string, auth: string | null = fx.basic, path = '/revocations') => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth) headers.authorization = auth;
    const res = await fetch(`${server.url}${path}${query}`, { headers });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as Page & Record<string, unknown> };
  };

  describe('refuses callers without a resource credential', () => {
    const cases: [string, () => string | null][] = [
      ['no Authorization header', () => null],
      ['a wrong secret', () => basicAuth(fx.creds.id, 'not-the-secret')],
      ['an unknown credential id', () => basicAuth('rs_unknown', fx.creds.secret)],
      ['a Bearer token', () => `Bearer ${fx.creds.secret}`],
      ['Basic without a colon', () => `Basic ${Buffer.from(fx.creds.id).toString('base64')}`],
      ['Basic that is not base64', () => 'Basic %%%'],
    ];
    for (const path of ['/revocations', '/revocations/stream']) {
      it.each(cases)(`${path}: %s → 401 invalid_client`, async (_name, auth) => {
        const res = await get('?after=0', auth(), path);
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('invalid_client');
        expect(res.headers.get('www-authenticate')).toBe('Basic realm="revocations"');
        expect(res.headers.get('cache-control')).toBe('no-store');
        expect(res.body).not.toHaveProperty('entries');
      });
    }
  });

  it('returns entries after the cursor in order, with only what resource servers need', async () => {
    const { revocations } = server.app.stores;
    const start = await revocations.latestSeq();
    const now = epochSeconds();
    const grantId = await revokeNewGrant(server.sql, revocations, now);
    const userId = newId('user');
    const clientId = newId('agent');
    await revocations.revokeUserGrants(userId, null, 'admin:feed-test-admin', now);
    await revocations.revokeClientGrants(clientId, 'admin:feed-test-admin', now);
    const expires = now + server.config.accessTokenTtl + 60;

    const res = await get(`?after=${start}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      entries: [
        { seq: start + 1, type: 'grant', grant_id: grantId, before: now, expires_at: expires },
        { seq: start + 2, type: 'user', sub: userId, before: now, expires_at: expires },
        { seq: start + 3, type: 'client', client_id: clientId, before: now, expires_at: expires },
      ],
      cursor: start + 3,
      latest: start + 3,
    });
    // Who revoked and why stay at the authorization server.
    expect(res.text).not.toContain('feed-test-admin');
    expect(res.text).not.toContain('feed-test-reason');
    expect(res.text).not.toMatch(/revoked_by|reason|created_at|"ip"/);

    const caughtUp = await get(`?after=${start + 3}`);
    expect(caughtUp.body).toEqual({ entries: [], cursor: start + 3, latest: start + 3 });
    const middle = await get(`?after=${start + 1}`);
    expect(middle.body.entries.map((e) => e.seq)).toEqual([start + 2, start + 3]);
  });

  it('pages with limit: cursor is the last seq returned, latest the newest overall', async () => {
    const { revocations } = server.app.stores;
    const start = await revocations.latestSeq();
    for (let i = 0; i < 5; i++) await revocations.revokeClientGrants(newId('agent'), 'cli', epochSeconds());
    const first = await get(`?after=${start}&limit=2`);
    expect(first.body.entries.map((e) => e.seq)).toEqual([start + 1, start + 2]);
    expect(first.body.cursor).toBe(start + 2);
    expect(first.body.latest).toBe(start + 5);
    const second = await get(`?after=${first.body.cursor}&limit=2`);
    expect(second.body.entries.map((e) => e.seq)).toEqual([start + 3, start + 4]);
    const third = await get(`?after=${second.body.cursor}&limit=2`);
    expect(third.body.entries.map((e) => e.seq)).toEqual([start + 5]);
    expect(third.body.cursor).toBe(start + 5);
    const all = await get(`?after=${start}&limit=1000`);
    expect(all.body.entries).toHaveLength(5);
  });

  it('skips entries whose tokens have all expired', async () => {
    const { revocations } = server.app.stores;
    const start = await revocations.latestSeq();
    const longAgo = epochSeconds() - server.config.accessTokenTtl - 3600;
    const stale = newId('agent');
    const fresh = newId('agent');
    await revocations.revokeClientGrants(stale, 'cli', longAgo);
    await revocations.revokeClientGrants(fresh, 'cli', epochSeconds());
    const res = await get(`?after=${start}`);
    expect(res.body.entries).toEqual([expect.objectContaining({ seq: start + 2, client_id: fresh })]);
    expect(res.body.latest).toBe(start + 2);
    expect(res.text).not.toContain(stale);
  });

  it('a cursor past the newest entry (the database was replaced) replays every live entry', async () => {
    const { revocations } = server.app.stores;
    const latest = await revocations.latestSeq();
    expect(latest).toBeGreaterThan(0);
    const res = await get(`?after=${latest + 1000}`);
    expect(res.status).toBe(200);
    expect(res.body.entries.length).toBeGreaterThan(0);
    expect(res.body.entries[0]?.seq).toBeLessThanOrEqual(latest);
    expect(res.body.cursor).toBe(latest);
  });

  describe('malformed parameters are 400 invalid_request, never 5xx', () => {
    const bad = [
      'after=-1',
      'after=abc',
      'after=1.5',
      'after=1e3',
      'after=',
      'after=0x10',
      'after=%20',
      'after=99999999999999999999',
      'after=1&after=2',
      'limit=0',
      'limit=1001',
      'limit=-5',
      'limit=ten',
      'limit=',
      'limit=1&limit=2',
    ];
    it.each(bad)('/revocations?%s', async (query) => {
      const res = await get(`?${query}`);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_request' });
      expect(res.headers.get('cache-control')).toBe('no-store');
    });
    it.each(bad.filter((q) => q.startsWith('after')))('/revocations/stream?%s', async (query) => {
      const res = await get(`?${query}`, fx.basic, '/revocations/stream');
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_request' });
    });
    it.each(['abc', '-1', '1.5', '1,2'])('/revocations/stream with Last-Event-ID %j', async (id) => {
      const res = await fetch(`${server.url}/revocations/stream`, {
        headers: { authorization: fx.basic, 'last-event-id': id },
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
    });
  });

  it('answers other methods with 405', async () => {
    const res = await fetch(`${server.url}/revocations`, { method: 'POST', headers: { authorization: fx.basic } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
  });
});
