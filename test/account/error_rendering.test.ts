// One error renderer (src/http/errors.ts): every refusal goes out through sendError, as a page or as
// JSON by errorFormat() alone, never cached, and an unexpected error shows nothing of its cause.
// Over real HTTP: a small Koa app with the real views for the kit itself, and the real server for
// the places that answer through it (oidc-provider's error page, the admin API, the account pages,
// a probe's 405).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { errorHandler, errorsAs, HttpError } from '../../src/web/errors.js';
import { createViews } from '../../src/web/views.js';
import { serverWithUsers, signedInClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { closeServer } from '../support/feed.js';

const SECRET = 'database file /srv/secret.sqlite is locked';

describe('the error renderer on its own', () => {
  let http: Server;
  let url: string;
  const log = createLogger('silent');
  const logged = vi.spyOn(log, 'error');

  beforeAll(async () => {
    const views = createViews();
    const app = new Koa();
    app.use(errorHandler(views, log));
    const page = errorsAs(views, log, { template: 'account_error.njk', byStatus: true, vars: () => ({}) });
    const json = errorsAs(views, log);
    app.use(async (ctx, next) => {
      if (ctx.path.startsWith('/page/')) return page(ctx, next);
      if (ctx.path.startsWith('/json/')) return json(ctx, next);
      return next();
    });
    app.use(async (ctx) => {
      if (ctx.path.endsWith('/refused')) throw new HttpError(403, 'forbidden', 'you may not');
      if (ctx.path.endsWith('/broken')) throw new Error(SECRET);
      ctx.body = 'ok';
    });
    http = createServer(app.callback());
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(() => closeServer(http));

  const get = (path: string, accept: string, method = 'GET') => fetch(`${url}${path}`, { method, headers: { accept } });

  it('answers a page route with a page and an API route with JSON, whatever the request accepts', async () => {
    const page = await get('/page/refused', 'application/json', 'POST');
    expect(page.status).toBe(403);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).toContain('<h1>Not allowed</h1>');
    expect(html).toContain('you may not');

    const json = await get('/json/refused', 'text/html');
    expect(json.status).toBe(403);
    expect(json.headers.get('cache-control')).toBe('no-store');
    expect(await json.json()).toEqual({ error: 'forbidden', error_description: 'you may not' });
  });

  it('elsewhere negotiates: a page for a browser GET or an interaction step, JSON for the rest', async () => {
    expect((await get('/other/refused', 'text/html')).headers.get('content-type')).toContain('text/html');
    expect((await get('/interaction/x/refused', '*/*', 'POST')).headers.get('content-type')).toContain('text/html');
    const api = await get('/other/refused', 'text/html', 'POST');
    expect(api.headers.get('content-type')).toContain('application/json');
    expect((await get('/other/refused', 'application/json')).headers.get('content-type')).toContain('application/json');
  });

  it('shows an unexpected error as a plain server_error, page or JSON, and logs its cause', async () => {
    logged.mockClear();
    for (const [path, accept] of [
      ['/page/broken', 'text/html'],
      ['/json/broken', 'application/json'],
      ['/other/broken', 'text/html'],
    ] as const) {
      const res = await get(path, accept);
      expect(res.status, path).toBe(500);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = await res.text();
      expect(body).toContain('the server could not complete the request');
      expect(body).not.toContain('secret');
    }
    expect(logged).toHaveBeenCalledTimes(3);
  });
});

describe('the places that answer through it', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWithUsers();
  });
  afterAll(() => server.close());

  it("renders oidc-provider's refusals as our error page, never cached", async () => {
    const res = await fetch(`${server.url}/authorize?client_id=nobody`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(400);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain('<h1>Unknown agent</h1>');
    expect(html).toContain('Error code: <code>invalid_client</code>');
  });

  it('answers the admin API in JSON, an account page as a page, and a probe 405 in JSON', async () => {
    const alice = await signedInClient(server, 'alice');
    const api = await alice.get('/admin/api/nothing-here', { accept: 'text/html' });
    expect(api.status).toBe(403);
    expect(api.headers.get('content-type')).toContain('application/json');
    expect(((await api.json()) as { error: string }).error).toBe('forbidden');

    const page = await alice.request('POST', '/account/grants/nope/revoke', {
      form: { csrf: 'wrong' },
      headers: { accept: 'application/json' },
    });
    expect(page.status).toBe(403);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('<h1>Not allowed</h1>');

    const probe = await fetch(`${server.url}/healthz`, { method: 'POST' });
    expect(probe.status).toBe(405);
    expect(probe.headers.get('allow')).toBe('GET, HEAD');
    expect(probe.headers.get('cache-control')).toBe('no-store');
    expect(await probe.json()).toEqual({ error: 'method_not_allowed', error_description: 'use GET or HEAD' });
  });
});
