// Every front check against every spelling of its path. oidc-provider's router folds case and
// drops a trailing slash (node_modules/oidc-provider/lib/helpers/router.js); a check comparing
// ctx.path as a string was skipped by `/Register`, `/token/` and the like while the provider still
// served them. Each variant here must meet the same check as the canonical path (or reach nothing).
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, redeem, register } from '../support/oauth.js';
import { countRows, isConsumed, OTHER_RESOURCE, RESOURCE, USER } from '../support/security.js';

/** The same path spelled as a client may: case, trailing and duplicate slashes, percent-encoding. */
function variants(path: string): string[] {
  const segments = path.slice(1).split('/');
  const first = segments[0] ?? '';
  const rest = segments
    .slice(1)
    .map((s) => `/${s}`)
    .join('');
  const hex = (c: string) => `%${c.charCodeAt(0).toString(16)}`;
  return [
    `/${first.charAt(0).toUpperCase()}${first.slice(1)}${rest}`,
    path.toUpperCase(),
    `${path}/`,
    `/${path}`,
    `${path}//`,
    segments.length > 1 ? `/${first}//${segments.slice(1).join('/')}` : `/${path}/`,
    `/${hex(first.charAt(0))}${first.slice(1)}${rest}`,
    `/${first.slice(0, -1)}${hex(first.slice(-1)).toUpperCase()}${rest}`,
    `/${[...first].map(hex).join('')}${rest}`,
    `/${hex(first.charAt(0).toUpperCase())}${first.slice(1)}${rest}/`,
  ];
}

/** A request sent with exactly this path (fetch would resolve `.` segments and their escapes itself). */
function rawPost(server: TestServer, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}/`, { method: 'POST', path, headers: json }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(JSON.stringify(PUBLIC_CLIENT));
  });
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const json = { 'content-type': 'application/json' };
const REGISTRATION_TOKEN = 'fixed-initial-access-token-0123456789abcdef';

it('the variants are all different spellings', () => {
  const all = variants('/register');
  expect(new Set(all).size).toBe(all.length);
  expect(all).toEqual(
    expect.arrayContaining(['/Register', '/REGISTER', '/register/', '//register', '/%72egister', '/registe%72']),
  );
});

describe('registration guard (MCP_OAUTH_REGISTRATION=token, MCP_OAUTH_MAX_UNUSED_CLIENTS)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      MCP_OAUTH_REGISTRATION: 'token',
      MCP_OAUTH_REGISTRATION_TOKEN: REGISTRATION_TOKEN,
      MCP_OAUTH_MAX_UNUSED_CLIENTS: '2',
      MCP_OAUTH_RATE_LIMIT_REGISTRATION: '0',
    });
  });
  afterAll(() => server.close());

  const post = (path: string, token?: string) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { ...json, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(PUBLIC_CLIENT),
    });

  it.each(variants('/register'))('POST %s without an initial access token → 401, no client', async (path) => {
    const before = await countRows(server, 'Client');
    const res = await post(path);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
    expect(await countRows(server, 'Client')).toBe(before);
  });

  it('the cap on unused registrations holds for every spelling', async () => {
    // Two spellings fill the cap (each counted once).
    expect((await post('/Register', REGISTRATION_TOKEN)).status).toBe(201);
    expect((await post('/register/', REGISTRATION_TOKEN)).status).toBe(201);
    expect(await countRows(server, 'Client')).toBe(2);
    for (const path of ['/register', ...variants('/register')]) {
      const res = await post(path, REGISTRATION_TOKEN);
      expect([path, res.status]).toEqual([path, 429]);
      expect(((await res.json()) as { error: string }).error).toBe('temporarily_unavailable');
    }
    expect(await countRows(server, 'Client')).toBe(2);
  });

  it('refuses dot segments instead of guessing what they resolve to', async () => {
    for (const path of ['/./register', '/%2e/register', '/x/%2E%2E/register', '/x/../register', '/register/%2e']) {
      expect([path, await rawPost(server, path)]).toEqual([path, 400]);
    }
    expect(await countRows(server, 'Client')).toBe(2);
  });
});

describe('per-address rate limits', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      MCP_OAUTH_RATE_LIMIT_TOKEN: '2',
      MCP_OAUTH_RATE_LIMIT_REGISTRATION: '2',
      MCP_OAUTH_RATE_LIMIT_INTROSPECTION: '2',
      MCP_OAUTH_RATE_LIMIT_FEED: '2',
      MCP_OAUTH_RATE_LIMIT_ADMIN: '2',
      MCP_OAUTH_RATE_LIMIT_AUTHORIZE: '2',
    });
    await server.addResource(RESOURCE, 'Orders DB');
  });
  afterAll(() => server.close());

  const tokenBody = () =>
    new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', token: 'x', client_id: 'x' });
  const rules: { name: string; paths: string[]; send: (path: string) => Promise<Response> }[] = [
    {
      name: 'token and revocation',
      paths: ['/token', '/revoke'],
      send: (path) => fetch(`${server.url}${path}`, { method: 'POST', headers: form, body: tokenBody() }),
    },
    {
      name: 'registration',
      paths: ['/register'],
      send: (path) =>
        fetch(`${server.url}${path}`, { method: 'POST', headers: json, body: JSON.stringify(PUBLIC_CLIENT) }),
    },
    {
      name: 'authorization',
      paths: ['/authorize'],
      send: (path) => fetch(`${server.url}${path}?client_id=nobody`, { redirect: 'manual' }),
    },
    {
      name: 'introspection',
      paths: ['/introspect'],
      send: (path) =>
        fetch(`${server.url}${path}`, { method: 'POST', headers: form, body: new URLSearchParams({ token: 'x' }) }),
    },
    {
      name: 'revocation feed',
      paths: ['/revocations', '/revocations/stream'],
      send: (path) => fetch(`${server.url}${path}?after=0`, { signal: AbortSignal.timeout(5000) }),
    },
    {
      name: 'admin API',
      paths: ['/admin/api/users'],
      send: (path) => fetch(`${server.url}${path}`, { headers: { authorization: 'Bearer nope' } }),
    },
  ];

  it.each(rules)('$name: every spelling is counted and refused past the limit', async (rule) => {
    const canonical = rule.paths[0] as string;
    for (let i = 0; i < 2; i++) {
      const res = await rule.send(canonical);
      await res.body?.cancel();
      expect(res.status).not.toBe(429);
    }
    for (const path of rule.paths.flatMap((p) => [p, ...variants(p)])) {
      const res = await rule.send(path);
      await res.body?.cancel();
      // Our own pages and APIs match exactly: a variant in another case reaches no handler at all.
      const own = !['/token', '/revoke', '/register', '/authorize'].includes(path.toLowerCase().replace(/\/+$/, ''));
      const caseVariant = decodeURIComponent(path) !== decodeURIComponent(path).toLowerCase();
      expect([path, res.status]).toEqual([path, own && caseVariant && res.status === 404 ? 404 : 429]);
    }
  });
});

describe('resource pre-checks at /token and /authorize', () => {
  let server: TestServer;
  let refreshToken: string;
  let clientId: string;
  beforeAll(async () => {
    server = await startTestServer();
    await server.addUser(USER.username, USER.password);
    await server.addResource(RESOURCE, 'Orders DB');
    await server.addResource(OTHER_RESOURCE, 'Other');
    const client = await register(server.url, PUBLIC_CLIENT);
    clientId = client.client_id;
    const got = await authorize(server.url, { client, ...USER, resource: RESOURCE, scope: 'mcp:read' });
    const tokens = await redeem(server.url, client, got, { resource: RESOURCE });
    expect(tokens.status).toBe(200);
    refreshToken = tokens.body.refresh_token as string;
  });
  afterAll(() => server.close());

  it.each(variants('/token'))(
    'POST %s with another resource → invalid_target, refresh token not spent',
    async (path) => {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: form,
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
          client_id: clientId,
          resource: OTHER_RESOURCE,
        }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_target');
      expect(await isConsumed(server, 'RefreshToken', refreshToken)).toBe(false);
    },
  );

  it.each(variants('/authorize'))(
    'GET %s folds the resource indicator and fills in the default scope',
    async (path) => {
      const params = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: PUBLIC_CLIENT.redirect_uris[0] as string,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        state: 'st',
        // A trailing slash, as Claude sends it; no scope at all.
        resource: `${RESOURCE}/`,
      });
      const res = await fetch(`${server.url}${path}?${params}`, { redirect: 'manual' });
      expect(res.status).toBe(303);
      expect(new URL(res.headers.get('location') ?? '', server.url).pathname).toMatch(/^\/interaction\//);
    },
  );
});

describe('other routes', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await server.addResource(RESOURCE, 'Orders DB');
  });
  afterAll(() => server.close());

  it.each(variants('/.well-known/oauth-authorization-server'))(
    'GET %s is the metadata this server publishes, not the provider’s raw document',
    async (path) => {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as Record<string, unknown>;
      expect(doc.scopes_supported).toEqual(['mcp:read', 'mcp:write', 'offline_access']);
      expect(doc.claims_supported).toBeUndefined();
    },
  );

  it('our own pages match one spelling: slashes are folded, case is not', async () => {
    expect((await fetch(`${server.url}/account/login/`)).status).toBe(200);
    expect((await fetch(`${server.url}//account//login`)).status).toBe(200);
    expect((await fetch(`${server.url}/Account/login`)).status).toBe(404);
    expect((await fetch(`${server.url}/account/LOGIN`)).status).toBe(404);
  });
});
