// POST /register (RFC 7591) and /register/:id (RFC 7592): what a self-registering agent may not
// say about itself, what real agents must be able to say, CORS, and the registration modes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { PUBLIC_CLIENT, register } from '../support/oauth.js';
import { countRows } from '../support/security.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

function postRegister(target: TestServer, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${target.url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const withRedirects = (redirect_uris: unknown) => ({ ...PUBLIC_CLIENT, redirect_uris });
const LOOPBACK_ONLY =
  'redirect_uris: http redirect_uris are only allowed on loopback hosts (127.0.0.1, [::1], localhost)';

describe('refused registrations create no client', () => {
  it.each<[string, string, string, unknown]>([
    [
      'a javascript: redirect URI',
      'invalid_redirect_uri',
      'redirect_uris: redirect_uri must not use the javascript scheme',
      withRedirects(['javascript:alert(1)']),
    ],
    [
      'a data: redirect URI',
      'invalid_redirect_uri',
      'redirect_uris: redirect_uri must not use the data scheme',
      withRedirects(['data:text/html,<script>alert(1)</script>']),
    ],
    [
      'a file: redirect URI',
      'invalid_redirect_uri',
      'redirect_uris: redirect_uri must not use the file scheme',
      withRedirects(['file:///etc/passwd']),
    ],
    [
      'a non-loopback http redirect URI',
      'invalid_redirect_uri',
      LOOPBACK_ONLY,
      withRedirects(['http://evil.example.com/cb']),
    ],
    [
      'an http host that only starts like a loopback address',
      'invalid_redirect_uri',
      LOOPBACK_ONLY,
      withRedirects(['http://127.0.0.1.evil.example.com/cb']),
    ],
    [
      'an http host that only starts like localhost',
      'invalid_redirect_uri',
      LOOPBACK_ONLY,
      withRedirects(['http://localhost.evil.example.com/cb']),
    ],
    [
      'a redirect URI with a fragment',
      'invalid_redirect_uri',
      'redirect_uris: redirect_uri must not contain a fragment',
      withRedirects(['https://app.example.com/cb#x']),
    ],
    [
      'a redirect URI with userinfo',
      'invalid_redirect_uri',
      'redirect_uris: redirect_uri must not contain userinfo',
      withRedirects(['https://u:p@app.example.com/cb']),
    ],
    [
      'a relative redirect URI',
      'invalid_redirect_uri',
      'redirect_uris: redirect_uri must be an absolute URI',
      withRedirects(['/cb']),
    ],
    [
      'one bad redirect URI among good ones',
      'invalid_redirect_uri',
      'redirect_uris: redirect_uri must not use the javascript scheme',
      withRedirects(['https://app.example.com/cb', 'javascript:alert(1)']),
    ],
    [
      'an empty redirect_uris array',
      'invalid_redirect_uri',
      'redirect_uris: redirect_uris must contain members',
      withRedirects([]),
    ],
    [
      'redirect_uris as a string',
      'invalid_redirect_uri',
      'redirect_uris: redirect_uris must contain members',
      withRedirects('https://app.example.com/cb'),
    ],
    ['no redirect_uris', 'invalid_redirect_uri', 'redirect_uris is mandatory property', withRedirects(undefined)],
    [
      '21 redirect URIs',
      'invalid_redirect_uri',
      'redirect_uris: redirect_uris must not have more than 20 members',
      withRedirects(Array.from({ length: 21 }, (_, i) => `https://app.example.com/${i}`)),
    ],
    [
      'a client_name of 10,000 characters',
      'invalid_client_metadata',
      'client_name must be a string of at most 200 characters',
      { ...PUBLIC_CLIENT, client_name: 'x'.repeat(10_000) },
    ],
    [
      'a client_name with control characters',
      'invalid_client_metadata',
      'client_name must not contain control characters',
      { ...PUBLIC_CLIENT, client_name: 'Agent\u0007\u001b[2J' },
    ],
    [
      'a client_name that is not a string',
      'invalid_client_metadata',
      'client_name must be a string of at most 200 characters',
      { ...PUBLIC_CLIENT, client_name: { en: 'x' } },
    ],
    [
      'a javascript: logo_uri',
      'invalid_client_metadata',
      'logo_uri must be a web uri',
      { ...PUBLIC_CLIENT, logo_uri: 'javascript:alert(1)' },
    ],
    [
      'grant_types client_credentials',
      'invalid_client_metadata',
      'grant type client_credentials is only for service clients an administrator registers',
      { ...PUBLIC_CLIENT, grant_types: ['client_credentials'] },
    ],
    [
      'the implicit grant',
      'invalid_client_metadata',
      "grant_types can only contain 'authorization_code', 'refresh_token', 'client_credentials', or 'urn:ietf:params:oauth:grant-type:device_code'",
      { ...PUBLIC_CLIENT, grant_types: ['implicit'], response_types: ['token'] },
    ],
    // Not metadata errors: the body itself cannot be read, and oidc-provider says invalid_request.
    [
      'a body over 56 KiB',
      'invalid_request',
      'failed to parse the request body',
      { ...PUBLIC_CLIENT, padding: 'x'.repeat(60 * 1024) },
    ],
    ['a body that is not JSON', 'invalid_request', 'failed to parse the request body', '{"redirect_uris": ['],
  ])('%s → 400 %s', async (_label, error, description, body) => {
    const before = await countRows(server, 'Client');
    const res = await postRegister(server, body);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error, error_description: description });
    expect(await countRows(server, 'Client')).toBe(before);
  });

  it('a form-encoded body → 400 invalid_request, no client', async () => {
    const before = await countRows(server, 'Client');
    const res = await fetch(`${server.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'redirect_uris=https://app.example.com/cb',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
    expect(await countRows(server, 'Client')).toBe(before);
  });
});

describe('registrations real agents send are accepted', () => {
  it.each<[string, Record<string, unknown>, 'native' | 'web']>([
    ['scope: "" (MCP Inspector)', { ...PUBLIC_CLIENT, scope: '' }, 'native'],
    ['a resource member (ignored)', { ...PUBLIC_CLIENT, resource: 'https://mcp.example.com/mcp' }, 'native'],
    [
      'a cursor:// private-use redirect',
      withRedirects(['cursor://anysphere.cursor-retrieval/oauth/user-x/callback']),
      'native',
    ],
    ['a vscode:// private-use redirect', withRedirects(['vscode://vscode.dev/redirect']), 'native'],
    ['http://localhost without a port', withRedirects(['http://localhost/callback']), 'native'],
    ['http://[::1] loopback', withRedirects(['http://[::1]:8080/callback']), 'native'],
    ['a web agent https callback', withRedirects(['https://claude.ai/api/mcp/auth_callback']), 'web'],
  ])('%s → 201, application_type %s', async (_label, body, applicationType) => {
    const before = await countRows(server, 'Client');
    const res = await postRegister(server, body);
    expect(res.status).toBe(201);
    const client = (await res.json()) as Record<string, unknown>;
    expect(client.application_type).toBe(applicationType);
    expect(client.redirect_uris).toEqual(body.redirect_uris);
    expect(client).not.toHaveProperty('scope');
    expect(client).not.toHaveProperty('resource');
    expect(await countRows(server, 'Client')).toBe(before + 1);
  });

  it('a client_id chosen by the agent is ignored', async () => {
    const first = await register(server.url, PUBLIC_CLIENT);
    const res = await postRegister(server, { ...PUBLIC_CLIENT, client_id: first.client_id });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { client_id: string }).client_id).not.toBe(first.client_id);
  });
});

// docs/pitfalls.md#no-cors-on-registration
describe('CORS for browser-based agents', () => {
  const ORIGIN = 'https://inspector.example.com';

  it('OPTIONS /register preflight → 204 with Access-Control-Allow-Origin', async () => {
    const res = await fetch(`${server.url}/register`, {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type');
  });

  it('POST /register with Origin → 201 with Access-Control-Allow-Origin, and so is a refusal', async () => {
    const ok = await postRegister(server, PUBLIC_CLIENT, { origin: ORIGIN });
    expect(ok.status).toBe(201);
    expect(ok.headers.get('access-control-allow-origin')).toBe('*');
    const refused = await postRegister(server, withRedirects(['javascript:alert(1)']), { origin: ORIGIN });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('RFC 7592 client configuration endpoint', () => {
  it('GET registration_client_uri with the registration access token returns the client', async () => {
    const client = await register(server.url, PUBLIC_CLIENT);
    expect(client.registration_client_uri).toBe(`${server.url}/register/${client.client_id}`);
    const res = await fetch(client.registration_client_uri ?? '', {
      headers: { authorization: `Bearer ${client.registration_access_token}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.client_id).toBe(client.client_id);
    expect(body.redirect_uris).toEqual(PUBLIC_CLIENT.redirect_uris);
    expect(body.client_name).toBe(PUBLIC_CLIENT.client_name);
  });

  it.each<[string, (own: string, other: string) => Record<string, string>, string]>([
    ['no token', () => ({}), 'no access token provided'],
    ["another client's token", (_own, other) => ({ authorization: `Bearer ${other}` }), 'invalid token provided'],
    ['a made-up token', () => ({ authorization: `Bearer ${'z'.repeat(43)}` }), 'invalid token provided'],
  ])('GET registration_client_uri with %s → 401 invalid_token', async (_label, headers, description) => {
    const own = await register(server.url, PUBLIC_CLIENT);
    const other = await register(server.url, PUBLIC_CLIENT);
    const res = await fetch(own.registration_client_uri ?? '', {
      headers: headers(own.registration_access_token ?? '', other.registration_access_token ?? ''),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'invalid_token', error_description: description });
  });
});

describe('registration modes', () => {
  it('MCP_OAUTH_REGISTRATION=off: POST /register → 404, nothing created, not advertised', async () => {
    const off = await startTestServer({ MCP_OAUTH_REGISTRATION: 'off' });
    try {
      const res = await postRegister(off, PUBLIC_CLIENT);
      expect(res.status).toBe(404);
      expect(await countRows(off, 'Client')).toBe(0);
      const meta = (await (await fetch(`${off.url}/.well-known/oauth-authorization-server`)).json()) as Record<
        string,
        unknown
      >;
      expect(meta).not.toHaveProperty('registration_endpoint');
    } finally {
      await off.close();
    }
  });

  it('MCP_OAUTH_REGISTRATION=token: 401 invalid_token without or with a wrong bearer token, 201 with it', async () => {
    const token = 'r'.repeat(20) + 'T'.repeat(20);
    const guarded = await startTestServer({ MCP_OAUTH_REGISTRATION: 'token', MCP_OAUTH_REGISTRATION_TOKEN: token });
    try {
      const none = await postRegister(guarded, PUBLIC_CLIENT);
      expect(none.status).toBe(401);
      expect(((await none.json()) as { error: string }).error).toBe('invalid_token');
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);

      const wrong = await postRegister(guarded, PUBLIC_CLIENT, { authorization: `Bearer ${'X'.repeat(40)}` });
      expect(wrong.status).toBe(401);
      expect(((await wrong.json()) as { error: string }).error).toBe('invalid_token');
      expect(await countRows(guarded, 'Client')).toBe(0);

      const ok = await postRegister(guarded, PUBLIC_CLIENT, { authorization: `Bearer ${token}` });
      expect(ok.status).toBe(201);
      expect(await countRows(guarded, 'Client')).toBe(1);
    } finally {
      await guarded.close();
    }
  });
});
