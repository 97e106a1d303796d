// /metrics on the real app: not served without a configured token, refused without the right
// bearer token, and its counters follow what really happened (a failed and a successful login, an
// authorization-code and a refresh-token grant, a revocation, a registration, 429 answers) while
// random URLs add no series.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, CookieBrowser, csrfOf, PUBLIC_CLIENT, redeem, register, tokenRequest } from '../support/oauth.js';

const TOKEN = randomBytes(32).toString('hex');
const RESOURCE = 'https://mcp.example.com/mcp';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m?.[1] || m[3] === undefined) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe('metrics off by default', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s.close();
  });

  it('does not serve /metrics at all without MCP_OAUTH_METRICS_TOKEN, even with a bearer token', async () => {
    for (const authorization of [undefined, `Bearer ${TOKEN}`]) {
      const res = await fetch(`${s.url}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain('mcp_oauth_');
    }
  });
});

describe('metrics with a token', () => {
  let s: TestServer;
  const scrape = async () => {
    const res = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    return parse(await res.text());
  };

  beforeAll(async () => {
    s = await startTestServer({ MCP_OAUTH_METRICS_TOKEN: TOKEN });
    await s.addUser('alice', 'correct horse battery');
    await s.addResource(RESOURCE, 'Orders');
  });
  afterAll(async () => {
    await s.close();
  });

  it.each([
    ['no credentials', {}],
    ['a wrong token', { authorization: `Bearer ${randomBytes(32).toString('hex')}` }],
    ['the token as Basic', { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }],
    ['the token with a suffix', { authorization: `Bearer ${TOKEN}x` }],
    ['the token in the query', {}, `?token=${TOKEN}`],
  ] as [string, Record<string, string>, string?][])(
    'refuses %s with 401 and no metrics',
    async (_, headers, query = '') => {
      const res = await fetch(`${s.url}/metrics${query}`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      const text = await res.text();
      expect(text).not.toContain('mcp_oauth_http_requests_total');
    },
  );

  it('counts logins by result, tokens by grant type, active grants, revocations and registrations', async () => {
    const before = await scrape();
    expect(value(before, 'mcp_oauth_grants_active')).toBe(0);
    expect(value(before, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    // A failed sign-in on the account page.
    const browser = new CookieBrowser();
    const page = await browser.get(`${s.url}/account/login`);
    const failed = await browser.post(`${s.url}/account/login`, {
      csrf: csrfOf(await page.text()),
      username: 'alice',
      password: 'wrong password here',
      next: '',
    });
    expect(failed.status).toBeLessThan(500);

    // An agent registers, alice signs in and consents, the agent redeems the code and refreshes.
    const client = await register(s.url, PUBLIC_CLIENT);
    const got = await authorize(s.url, {
      client,
      username: 'alice',
      password: 'correct horse battery',
      resource: RESOURCE,
    });
    const issued = await redeem(s.url, client, got, { resource: RESOURCE });
    expect(issued.status).toBe(200);
    const refreshed = await tokenRequest(s.url, {
      grant_type: 'refresh_token',
      refresh_token: String(issued.body.refresh_token),
      client_id: client.client_id,
    });
    expect(refreshed.status).toBe(200);
    const mid = await scrape();
    const delta = (name: string, labels: Record<string, string>) =>
      value(mid, name, labels) - value(before, name, labels);
    expect(delta('mcp_oauth_logins_total', { result: 'failure', reason: 'wrong_password' })).toBe(1);
    expect(delta('mcp_oauth_logins_total', { result: 'success' })).toBe(1);
    expect(delta('mcp_oauth_tokens_issued_total', { grant_type: 'authorization_code' })).toBe(1);
    expect(delta('mcp_oauth_tokens_issued_total', { grant_type: 'refresh_token' })).toBe(1);
    expect(delta('mcp_oauth_client_registrations_total', { via: 'dynamic' })).toBe(1);
    expect(value(mid, 'mcp_oauth_grants_active')).toBe(1);
    expect(delta('mcp_oauth_http_requests_total', { route: '/token', method: 'POST', status: '200' })).toBe(2);
    expect(value(mid, 'mcp_oauth_http_request_duration_seconds_count', { route: '/token', method: 'POST' })).toBe(2);

    // The agent revokes its refresh token (RFC 7009): the grant goes with it.
    const body = (await refreshed.json()) as { refresh_token: string };
    const revoke = await fetch(`${s.url}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: body.refresh_token, client_id: client.client_id }),
    });
    expect(revoke.status).toBe(200);
    const after = await scrape();
    expect(value(after, 'mcp_oauth_grant_revocations_total', { by: 'agent' })).toBe(1);
    expect(value(after, 'mcp_oauth_grants_active')).toBe(0);
  });

  it('labels requests by route template, so random paths add no series', async () => {
    const routesOf = (samples: Sample[]) =>
      new Set(samples.filter((x) => x.name === 'mcp_oauth_http_requests_total').map((x) => x.labels.route));
    // Warm every shape once, then send many random variants of the same shapes.
    const shapes = (r: string) => [
      `/${r}`,
      `/nothing/${r}/deeper?${r}=1`,
      `/interaction/${r}`,
      `/register/${r}`,
      `/admin/api/grants/${r}/revoke`,
      `/static/${r}.css`,
      `/.well-known/${r}`,
    ];
    await Promise.all(shapes('warm').map((p) => fetch(`${s.url}${p}`)));
    const warm = await scrape();
    const random: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = randomBytes(6).toString('hex');
      random.push(r);
      await Promise.all(shapes(r).map((p) => fetch(`${s.url}${p}`, { method: i % 2 ? 'GET' : 'DELETE' })));
    }
    const text = await (await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    for (const r of random) expect(text).not.toContain(r);
    const added = [...routesOf(parse(text))].filter((r) => !routesOf(warm).has(r));
    expect(added).toEqual([]);
    expect(routesOf(parse(text)).size).toBeLessThan(25);
  });
});

describe('throttled requests', () => {
  it('counts every 429 answer, whichever middleware gave it, by route', async () => {
    // The throttles answer 429 from their own middleware (rate_limit.ts, the login pages); the
    // counter reads the response status. A Koa app with the same metrics middleware in front of a
    // refusing one stands in for them here.
    const metrics = createMetrics({ token: TOKEN, activeGrants: () => 0, log: createLogger('silent') });
    const app = new Koa();
    app.use(metrics.observeRequests);
    app.use(metrics.endpoint);
    app.use((ctx) => {
      ctx.status = ctx.path === '/token' ? 429 : 404;
    });
    const server = createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (let i = 0; i < 3; i++) expect((await fetch(`${base}/token`, { method: 'POST' })).status).toBe(429);
      expect((await fetch(`${base}/elsewhere`)).status).toBe(404);
      const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const samples = parse(await res.text());
      expect(value(samples, 'mcp_oauth_throttled_requests_total')).toBe(3);
      expect(value(samples, 'mcp_oauth_throttled_requests_total', { route: 'other' })).toBe(3);
      expect(value(samples, 'mcp_oauth_http_requests_total', { status: '429', method: 'POST' })).toBe(3);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('MCP_OAUTH_METRICS_TOKEN', () => {
  it('is read from the environment or a file, and must be long enough', () => {
    expect(loadConfig({}).metricsToken).toBeUndefined();
    expect(loadConfig({ MCP_OAUTH_METRICS_TOKEN: TOKEN }).metricsToken).toBe(TOKEN);
    expect(() => loadConfig({ MCP_OAUTH_METRICS_TOKEN: 'short' })).toThrow(/at least 32 characters/);
    // Sent as a Bearer token, so only token68 characters: a token the one Bearer parser could never
    // match is refused at start, not discovered at the first failed scrape.
    expect(() => loadConfig({ MCP_OAUTH_METRICS_TOKEN: `${'a'.repeat(32)} !#` })).toThrow(/only letters, digits/);
    expect(() => loadConfig({ MCP_OAUTH_REGISTRATION_TOKEN: `${'b'.repeat(32)}"` })).toThrow(/only letters, digits/);
    const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-metrics-'));
    try {
      const file = path.join(dir, 'token');
      writeFileSync(file, `${TOKEN}\n`);
      expect(loadConfig({ MCP_OAUTH_METRICS_TOKEN_FILE: file }).metricsToken).toBe(TOKEN);
      expect(() => loadConfig({ MCP_OAUTH_METRICS_TOKEN_FILE: file, MCP_OAUTH_METRICS_TOKEN: TOKEN })).toThrow(
        /both set/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
