// Request ids: kept when sane, replaced otherwise, echoed in X-Request-Id, and present in every log
// line written for the request (access line and audit line alike), with no query string, token or
// password anywhere in those lines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { acceptedRequestId } from '../../src/ops/request_id.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { CookieBrowser, csrfOf } from '../support/oauth.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('acceptedRequestId', () => {
  it.each([
    ['abc-123', true],
    ['0f8fad5b-d9cb-469f-a165-70867728950e', true],
    ['trace.id:span/1+2=3@x_y', true],
    ['a'.repeat(128), true],
    ['a'.repeat(129), false],
    ['', false],
    ['has space', false],
    ['line\nbreak', false],
    ['quote"', false],
    ['<script>', false],
    ['ünïcode', false],
  ])('%j → %s', (id, ok) => {
    expect(acceptedRequestId(id)).toBe(ok ? id : undefined);
  });
});

describe('request ids over HTTP', () => {
  let s: TestServer;
  const lines: Record<string, unknown>[] = [];
  const forRequest = (id: string) => lines.filter((l) => l.reqId === id);

  beforeAll(async () => {
    const logger = createLogger('debug', { write: (l: string) => void lines.push(JSON.parse(l)) });
    s = await startTestServer({}, { logger });
    await s.addUser('alice', 'correct horse battery');
  });
  afterAll(async () => {
    await s.close();
  });

  it('keeps a sane incoming id and echoes it', async () => {
    const res = await fetch(`${s.url}/.well-known/oauth-authorization-server`, {
      headers: { 'x-request-id': 'proxy-7f3a.1' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('proxy-7f3a.1');
    await expect.poll(() => forRequest('proxy-7f3a.1').length).toBe(1);
    expect(forRequest('proxy-7f3a.1')[0]).toMatchObject({
      msg: 'request',
      method: 'GET',
      route: '/.well-known/oauth-authorization-server',
      status: 200,
      level: 30,
    });
  });

  it.each([['x'.repeat(200)], ['bad id'], ['<b>']])('replaces an unusable id (%s) with a fresh UUID', async (bad) => {
    const res = await fetch(`${s.url}/healthz`, { headers: { 'x-request-id': bad } });
    const id = res.headers.get('x-request-id') ?? '';
    expect(id).toMatch(UUID);
    await expect.poll(() => forRequest(id).length).toBe(1);
    expect(JSON.stringify(lines)).not.toContain(bad);
  });

  it('gives every request its own id when none is sent', async () => {
    const ids = await Promise.all(
      [1, 2, 3].map(async () => (await fetch(`${s.url}/healthz`)).headers.get('x-request-id') ?? ''),
    );
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(3);
  });

  it('puts the id on every line of the request, audit lines included, and logs no secret', async () => {
    const browser = new CookieBrowser();
    const page = await browser.get(`${s.url}/account/login?secret_param=do-not-log`);
    const csrf = csrfOf(await page.text());
    const res = await fetch(`${s.url}/account/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: page.headers
          .getSetCookie()
          .map((c) => c.split(';')[0])
          .join('; '),
        'x-request-id': 'login-attempt-1',
      },
      body: new URLSearchParams({ csrf, username: 'alice', password: 'wrong password 123', next: '' }),
    });
    expect(res.headers.get('x-request-id')).toBe('login-attempt-1');
    await expect.poll(() => forRequest('login-attempt-1').some((l) => l.msg === 'request')).toBe(true);
    const mine = forRequest('login-attempt-1');
    expect(mine.map((l) => l.msg)).toEqual(expect.arrayContaining(['login.failure', 'request']));
    expect(mine.find((l) => l.msg === 'login.failure')).toMatchObject({ audit: true });
    const all = JSON.stringify(lines);
    for (const secret of ['wrong password 123', csrf, 'do-not-log', 'secret_param']) expect(all).not.toContain(secret);
    // Lines outside any request carry no id.
    expect(lines.filter((l) => l.msg === 'request').every((l) => typeof l.reqId === 'string')).toBe(true);
  });
});
