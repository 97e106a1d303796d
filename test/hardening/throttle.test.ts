// Password guessing and request floods
// (docs/requirements.md#rfc-9700-security-best-current-practice): exponential back-off per account
// and per address on both sign-in forms (same answer for unknown users, an audit event when a block
// starts, never a permanent lockout), and per-address limits with 429 + Retry-After on the
// machine-facing endpoints. The back-off is driven with a faked Date (the limiter's clock), never
// with sleeps.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { addressKey, backoffSeconds } from '../../src/web/rate_limit.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { CookieBrowser, csrfOf, PUBLIC_CLIENT, pkcePair, register } from '../support/oauth.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const PASSWORD = 'correct horse battery';
const THROTTLED = 'Too many failed sign-in attempts.';

interface LoginPage {
  browser: CookieBrowser;
  action: string;
  csrf: string;
}

/** An agent's /authorize sends the browser to the interaction sign-in page. */
async function interactionLogin(server: TestServer): Promise<LoginPage> {
  const client = await register(server.url, PUBLIC_CLIENT);
  const browser = new CookieBrowser();
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: PUBLIC_CLIENT.redirect_uris[0] ?? '',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    state: 'xyz',
    resource: RESOURCE,
  });
  const step = await browser.follow(
    await browser.get(`${server.url}/authorize?${params}`),
    `${server.url}/authorize`,
    server.url,
  );
  const html = await step.res.text();
  expect(html).toContain('name="password"');
  return { browser, action: `${step.url}/login`, csrf: csrfOf(html) };
}

async function accountLogin(server: TestServer): Promise<LoginPage> {
  const browser = new CookieBrowser();
  const res = await browser.get(`${server.url}/account/login`);
  return { browser, action: `${server.url}/account/login`, csrf: csrfOf(await res.text()) };
}

async function attempt(page: LoginPage, username: string, password: string) {
  const res = await page.browser.post(page.action, { csrf: page.csrf, username, password, next: '/account' });
  const html = await res.text();
  const error = /class="error"[^>]*>([^<]*)</.exec(html)?.[1]?.trim() ?? null;
  return { status: res.status, retryAfter: res.headers.get('retry-after'), html, error };
}

async function throttledRows(server: TestServer) {
  return (
    (await server.sql.all(
      "SELECT user_id, ip, details FROM audit_events WHERE event = 'login.throttled' ORDER BY id",
    )) as { user_id: string | null; ip: string | null; details: string }[]
  ).map((r) => ({ userId: r.user_id, ip: r.ip, details: JSON.parse(r.details) as Record<string, unknown> }));
}

const advance = (seconds: number) => vi.setSystemTime(Date.now() + seconds * 1000);

describe('throttle settings', () => {
  it('back-off: free failures, then first × 2^n, capped', () => {
    expect([1, 5, 6, 7, 8, 9].map((n) => backoffSeconds(n, 5, 1, 900))).toEqual([0, 0, 1, 2, 4, 8]);
    expect(backoffSeconds(20, 5, 1, 900)).toBe(900);
    expect(backoffSeconds(1000, 5, 60, 900)).toBe(900);
  });

  it('counts an IPv6 address by its /64, and an IPv4-mapped address as IPv4', () => {
    expect(addressKey('203.0.113.5')).toBe('203.0.113.5');
    expect(addressKey('::ffff:203.0.113.5')).toBe('203.0.113.5');
    expect(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff::9')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('unknown')).toBe('unknown');
  });

  it('defaults that a test suite does not reach and an attack does', () => {
    const config = loadConfig({});
    expect(config.loginThrottle).toEqual({
      perUserAndAddress: 5,
      perUser: 20,
      perAddress: 50,
      window: 900,
      firstBlock: 1,
      maxBlock: 900,
    });
    expect(config.rateLimits).toEqual({
      token: 1200,
      registration: 120,
      introspection: 3000,
      feed: 600,
      admin: 600,
      authorize: 60,
      device: 20,
    });
    expect(config.refreshReuseGrace).toBe(10);
  });

  it.each([
    ['MCP_OAUTH_RATE_LIMIT_TOKEN', '-1'],
    ['MCP_OAUTH_RATE_LIMIT_ADMIN', 'lots'],
    ['MCP_OAUTH_LOGIN_FAILURES_PER_USER', '0'],
    ['MCP_OAUTH_LOGIN_MAX_BLOCK', 'forever'],
    ['MCP_OAUTH_REFRESH_REUSE_GRACE', '10m'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });

  it('0 turns a request limit and the grace window off', () => {
    const config = loadConfig({ MCP_OAUTH_RATE_LIMIT_TOKEN: '0', MCP_OAUTH_REFRESH_REUSE_GRACE: '0' });
    expect(config.rateLimits.token).toBe(0);
    expect(config.refreshReuseGrace).toBe(0);
  });
});

describe('sign-in back-off per account', () => {
  let server: TestServer;
  let aliceId: string;
  let erinId: string;
  beforeAll(async () => {
    server = await startTestServer({
      MCP_OAUTH_LOGIN_FAILURES_PER_USER_AND_ADDRESS: '3',
      MCP_OAUTH_LOGIN_FAILURES_PER_USER: '1000',
      MCP_OAUTH_LOGIN_FAILURES_PER_ADDRESS: '1000',
      MCP_OAUTH_LOGIN_FIRST_BLOCK: '60',
      MCP_OAUTH_LOGIN_MAX_BLOCK: '240',
    });
    aliceId = (await server.addUser('alice', PASSWORD)).id;
    await server.addUser('bob', PASSWORD);
    erinId = (await server.addUser('erin', PASSWORD)).id;
    await server.addResource(RESOURCE, 'Orders DB');
  });
  afterAll(() => server.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers an unknown username exactly like a known one, and blocks before checking the password', async () => {
    const runs = [];
    for (const username of ['alice', 'nosuchuser']) {
      const page = await interactionLogin(server);
      const seen = [];
      for (let i = 0; i < 4; i++) seen.push(await attempt(page, username, 'wrong password!'));
      // The right password while blocked is not even tried: same 429.
      seen.push(await attempt(page, username, PASSWORD));
      runs.push(seen.map((s) => ({ status: s.status, retryAfter: s.retryAfter, error: s.error })));
    }
    expect(runs[0]).toEqual([
      { status: 401, retryAfter: null, error: 'Wrong username or password.' },
      { status: 401, retryAfter: null, error: 'Wrong username or password.' },
      { status: 401, retryAfter: null, error: 'Wrong username or password.' },
      { status: 429, retryAfter: '60', error: `${THROTTLED} Try again in 60 seconds.` },
      { status: 429, retryAfter: '60', error: `${THROTTLED} Try again in 60 seconds.` },
    ]);
    expect(runs[1]).toEqual(runs[0]);
    const rows = await throttledRows(server);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      userId: aliceId,
      ip: '127.0.0.1',
      details: { scope: 'user_from_address', failures: 4, block_seconds: 60, reason: 'wrong_password' },
    });
    expect(rows[1]).toMatchObject({
      userId: null,
      details: {
        scope: 'user_from_address',
        failures: 4,
        block_seconds: 60,
        reason: 'unknown_user',
        username: 'nosu…',
      },
    });
    const logged = (await server.sql.get("SELECT COUNT(*) AS n FROM audit_events WHERE event = 'login.success'")) as {
      n: number;
    };
    expect(logged.n).toBe(0);
  });

  it('doubles the block with each further failure up to the maximum, then lets the right password in', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const page = await interactionLogin(server);
    // alice is still blocked from the previous test.
    expect((await attempt(page, 'alice', PASSWORD)).status).toBe(429);
    advance(61);
    const second = await attempt(page, 'alice', 'wrong again!!');
    expect([second.status, second.retryAfter]).toEqual([429, '120']);
    advance(121);
    const third = await attempt(page, 'alice', 'wrong again!!');
    expect([third.status, third.retryAfter]).toEqual([429, '240']);
    expect(third.error).toBe(`${THROTTLED} Try again in 4 minutes.`);
    advance(241);
    const capped = await attempt(page, 'alice', 'wrong again!!');
    expect([capped.status, capped.retryAfter]).toEqual([429, '240']);
    advance(241);
    const ok = await attempt(page, 'alice', PASSWORD);
    expect(ok.status).toBe(303);
    // Success clears the account's count: a typo afterwards is an ordinary failure.
    const fresh = await accountLogin(server);
    expect((await attempt(fresh, 'alice', 'typo typo typo')).status).toBe(401);
    const blocks = (await throttledRows(server))
      .filter((r) => r.userId === aliceId)
      .map((r) => r.details.block_seconds);
    expect(blocks).toEqual([60, 120, 240, 240]);
  });

  it('a burst of parallel guesses gets no more password checks than the limit', async () => {
    const page = await accountLogin(server);
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => attempt(page, 'erin', `guess number ${i}`)));
    const wrong = burst.filter((r) => r.status === 401).length;
    expect(burst.filter((r) => r.status === 429).length).toBe(12 - wrong);
    expect(wrong).toBeLessThanOrEqual(3);
    // Every password check that ran left a login.failure row. Three failures are free; the check
    // after them may run (one at a time) and starts the block, answering 429 rather than 401. So at
    // most 3 + 1 checks, however the 12 requests interleave.
    const checked = (await server.sql.get(
      "SELECT COUNT(*) AS n FROM audit_events WHERE event = 'login.failure' AND user_id = ?",
      [erinId],
    )) as { n: number };
    expect(checked.n).toBeGreaterThanOrEqual(1);
    expect(checked.n).toBeLessThanOrEqual(4);
    expect(wrong).toBeLessThanOrEqual(checked.n);
  });

  it('shares the counters between the agent sign-in page and the account sign-in page', async () => {
    const page = await interactionLogin(server);
    for (let i = 0; i < 3; i++) expect((await attempt(page, 'bob', 'not bobs password')).status).toBe(401);
    const account = await accountLogin(server);
    const blocked = await attempt(account, 'bob', 'not bobs password');
    expect(blocked.status).toBe(429);
    expect(blocked.retryAfter).toBe('60');
    expect(blocked.error).toBe(`${THROTTLED} Try again in 60 seconds.`);
    expect(blocked.html).toContain('name="username"');
    expect((await attempt(account, 'bob', PASSWORD)).status).toBe(429);
    // Other accounts from the same address are not affected by bob's block.
    expect((await attempt(await accountLogin(server), 'alice', PASSWORD)).status).toBe(303);
  });
});

describe('sign-in back-off per address and per username behind a trusted proxy', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      MCP_OAUTH_ISSUER: 'https://auth.example.test',
      MCP_OAUTH_TRUST_PROXY: 'true',
      MCP_OAUTH_LOGIN_FAILURES_PER_USER_AND_ADDRESS: '100',
      MCP_OAUTH_LOGIN_FAILURES_PER_USER: '4',
      MCP_OAUTH_LOGIN_FAILURES_PER_ADDRESS: '3',
      MCP_OAUTH_LOGIN_FIRST_BLOCK: '60',
    });
    await server.addUser('carol', PASSWORD);
    await server.addUser('dave', PASSWORD);
  });
  afterAll(() => server.close());

  /** The account sign-in form as a browser behind the proxy at `from` would submit it. */
  async function loginFrom(forwardedFor: string, username: string, password: string) {
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-for': forwardedFor, accept: 'text/html' };
    const page = await fetch(`${server.url}/account/login`, { headers });
    expect(page.status).toBe(200);
    const cookie = page.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const res = await fetch(`${server.url}/account/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...headers, cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: csrfOf(await page.text()), username, password, next: '/account' }),
    });
    await res.text();
    return { status: res.status, retryAfter: res.headers.get('retry-after') };
  }

  it('blocks an address spraying many usernames, keyed by the address the proxy saw', async () => {
    const attacker = '203.0.113.5';
    for (const name of ['root', 'admin', 'carol'])
      expect((await loginFrom(attacker, name, 'guess 1234')).status).toBe(401);
    expect(await loginFrom(attacker, 'oracle', 'guess 1234')).toEqual({ status: 429, retryAfter: '60' });
    // A forged entry in front of the proxy's own does not make a new address.
    expect((await loginFrom(`198.51.100.77, ${attacker}`, 'carol', PASSWORD)).status).toBe(429);
    // Another address, and the real user there, are unaffected.
    expect((await loginFrom('203.0.113.6', 'carol', PASSWORD)).status).toBe(303);
    const rows = await throttledRows(server);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ ip: attacker, details: { scope: 'address', failures: 4, block_seconds: 60 } });
  });

  it('slows guessing at one username spread over many addresses, without locking the user out where they sign in', async () => {
    const home = '198.51.100.10';
    expect((await loginFrom(home, 'dave', PASSWORD)).status).toBe(303);
    // A botnet: one guess from each address, under every per-address limit.
    const bots = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'];
    for (const bot of bots) expect((await loginFrom(bot, 'dave', 'guess 1234')).status).toBe(401);
    expect(await loginFrom('192.0.2.5', 'dave', 'guess 1234')).toEqual({ status: 429, retryAfter: '60' });
    // Any new address, even with the right password, waits...
    expect((await loginFrom('192.0.2.99', 'dave', PASSWORD)).status).toBe(429);
    // ...but dave still gets in from where he signed in before.
    expect((await loginFrom(home, 'dave', PASSWORD)).status).toBe(303);
    const rows = (await throttledRows(server)).filter((r) => r.details.scope === 'user');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      ip: '192.0.2.5',
      details: { failures: 5, block_seconds: 60, reason: 'wrong_password' },
    });
  });
});

describe('per-address request limits on machine-facing endpoints', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      MCP_OAUTH_RATE_LIMIT_TOKEN: '3',
      MCP_OAUTH_RATE_LIMIT_REGISTRATION: '2',
      MCP_OAUTH_RATE_LIMIT_INTROSPECTION: '2',
      MCP_OAUTH_RATE_LIMIT_FEED: '2',
      MCP_OAUTH_RATE_LIMIT_ADMIN: '2',
      MCP_OAUTH_RATE_LIMIT_AUTHORIZE: '2',
    });
  });
  afterAll(() => server.close());

  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const cases: { name: string; limit: number; send: (i: number) => Promise<Response> }[] = [
    {
      name: 'token and revocation',
      limit: 3,
      // A forged X-Forwarded-For changes nothing while the proxy is not trusted.
      send: (i) =>
        fetch(`${server.url}${i % 2 ? '/revoke' : '/token'}`, {
          method: 'POST',
          headers: { ...form, 'x-forwarded-for': `198.51.100.${i}` },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', token: 'x', client_id: 'x' }),
        }),
    },
    {
      name: 'registration',
      limit: 2,
      send: () =>
        fetch(`${server.url}/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(PUBLIC_CLIENT),
        }),
    },
    {
      name: 'introspection',
      limit: 2,
      send: () =>
        fetch(`${server.url}/introspect`, { method: 'POST', headers: form, body: new URLSearchParams({ token: 'x' }) }),
    },
    { name: 'revocation feed', limit: 2, send: () => fetch(`${server.url}/revocations?after=0`) },
    {
      // Each authorization request may fetch a client metadata document and start an interaction.
      name: 'authorization',
      limit: 2,
      send: () => fetch(`${server.url}/authorize?client_id=nobody`, { redirect: 'manual' }),
    },
    {
      name: 'admin API',
      limit: 2,
      send: () => fetch(`${server.url}/admin/api/users`, { headers: { authorization: 'Bearer nope' } }),
    },
  ];

  it.each(cases)('$name: 429 with Retry-After and an OAuth-style JSON error past the limit', async (c) => {
    for (let i = 0; i < c.limit; i++) {
      const res = await c.send(i);
      await res.arrayBuffer();
      expect(res.status).toBeLessThan(429);
      expect(res.status).toBeGreaterThanOrEqual(200);
    }
    const refused = await c.send(c.limit);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await refused.json()) as { error: string; error_description: string };
    expect(body.error).toBe('too_many_requests');
    expect(body.error_description).toContain(`${retryAfter} seconds`);
  });

  it('a registration refused for rate creates no client', async () => {
    const clients = (await server.sql.get("SELECT COUNT(*) AS n FROM oidc_models WHERE model = 'Client'")) as {
      n: number;
    };
    expect(clients.n).toBe(2);
  });

  it('does not count CORS preflights, and leaves discovery and other endpoints alone', async () => {
    // The registration limit was used up above.
    const exhausted = await fetch(`${server.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://127.0.0.1:6274' },
      body: JSON.stringify(PUBLIC_CLIENT),
    });
    expect(exhausted.status).toBe(429);
    // A browser-based agent can read the refusal.
    expect(exhausted.headers.get('access-control-allow-origin')).toBe('*');
    const preflight = await fetch(`${server.url}/register`, {
      method: 'OPTIONS',
      headers: { origin: 'http://127.0.0.1:6274', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).not.toBe(429);
    const meta = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    expect(meta.status).toBe(200);
    expect((await fetch(`${server.url}/jwks`)).status).toBe(200);
  });
});
