// The /token body as the resource pre-check reads it: a confidential client authenticating with
// HTTP Basic gets the same protection as one naming itself in the body (a wrong `resource` must be
// refused before oidc-provider consumes the refresh token), a broken Authorization header is a 4xx,
// and the provider still reads the raw body stream itself (no "already parsed request body").
import { request } from 'node:http';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, type RegisteredClient, register, tokenRequest } from '../support/oauth.js';
import { isConsumed, OTHER_RESOURCE, RESOURCE, USER } from '../support/security.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const form = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');

let server: TestServer;
let client: RegisteredClient;
let basic: string;
let refreshToken: string;
let warn: MockInstance<typeof console.warn>;

beforeAll(async () => {
  // Before any request: oidc-provider prints its warning once per process.
  warn = vi.spyOn(console, 'warn');
  // No reuse grace: a refresh token consumed by a refused request is gone for good.
  server = await startTestServer({ MCP_OAUTH_REFRESH_REUSE_GRACE: '0' });
  await server.addUser(USER.username, USER.password);
  await server.addResource(RESOURCE, 'Orders DB');
  await server.addResource(OTHER_RESOURCE, 'Other');
  client = await register(server.url, { ...PUBLIC_CLIENT, token_endpoint_auth_method: 'client_secret_basic' });
  basic = `Basic ${b64(`${form(client.client_id)}:${form(client.client_secret ?? '')}`)}`;
  const got = await authorize(server.url, { client, ...USER, resource: RESOURCE, scope: 'mcp:read' });
  const res = await tokenRequest(
    server.url,
    {
      grant_type: 'authorization_code',
      code: got.code ?? '',
      redirect_uri: client.redirect_uris[0] as string,
      code_verifier: got.verifier,
    },
    basic,
  );
  expect(res.status).toBe(200);
  refreshToken = ((await res.json()) as { refresh_token: string }).refresh_token;
});
afterAll(() => {
  warn.mockRestore();
  return server.close();
});

const refresh = (resource: string, auth: string | undefined = basic) =>
  tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: refreshToken, resource }, auth);

describe('HTTP Basic client authentication and the resource pre-check', () => {
  it('another resource → invalid_target before the refresh token is consumed; the right one still works', async () => {
    const refused = await refresh(OTHER_RESOURCE);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_target');
    expect(await isConsumed(server, 'RefreshToken', refreshToken)).toBe(false);

    // The trailing-slash spelling is folded (the body is rewritten for the provider).
    const ok = await refresh(`${RESOURCE}/`);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { access_token: string; refresh_token: string };
    expect(decodeJwt(body.access_token).aud).toBe(RESOURCE);
    refreshToken = body.refresh_token;
  });

  it.each([
    ['no credentials', 'Basic'],
    ['not base64', 'Basic !!!!'],
    ['no colon', `Basic ${b64('no-colon-here')}`],
    ['an empty client id', `Basic ${b64(':secret')}`],
    ['broken percent-encoding', `Basic ${b64('%E0%A4%A:secret')}`],
    ['extra parts', `${basic} extra`],
    ['another scheme', 'Bearer abc'],
  ])('a malformed or wrong Authorization header (%s) → 4xx, refresh token untouched', async (_label, header) => {
    const res = await refresh(OTHER_RESOURCE, header);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await isConsumed(server, 'RefreshToken', refreshToken)).toBe(false);
  });

  it('the right client id with a wrong secret → 4xx, refresh token untouched', async () => {
    const res = await refresh(OTHER_RESOURCE, `Basic ${b64(`${form(client.client_id)}:wrong`)}`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await isConsumed(server, 'RefreshToken', refreshToken)).toBe(false);
    expect((await refresh(RESOURCE, `Basic ${b64(`${form(client.client_id)}:wrong`)}`)).status).toBe(401);
    expect(await isConsumed(server, 'RefreshToken', refreshToken)).toBe(false);
  });

  it('a body sent in pieces without Content-Length is read, folded and handed on whole', async () => {
    const body = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      resource: `${RESOURCE}/`,
    });
    const text = body.toString();
    const half = Math.floor(text.length / 2);
    const res = await new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const req = request(
        `${server.url}/token`,
        { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic } },
        (r) => {
          let data = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => {
            data += c;
          });
          r.on('end', () => resolve({ status: r.statusCode ?? 0, json: JSON.parse(data) as Record<string, unknown> }));
        },
      );
      req.on('error', reject);
      // Chunked transfer encoding: the second piece goes out once the first has been flushed.
      req.write(text.slice(0, half), () => req.end(text.slice(half)));
    });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.json.access_token as string).aud).toBe(RESOURCE);
    refreshToken = res.json.refresh_token as string;
  });

  it('oidc-provider read the raw body every time (no "already parsed request body" warning)', () => {
    const texts = warn.mock.calls.map((args) => args.map(String).join(' '));
    expect(texts.filter((t) => t.includes('already parsed request body'))).toEqual([]);
  });
});
