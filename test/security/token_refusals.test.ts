// POST /token: refused requests get the exact OAuth error as JSON, issue nothing, and consume
// nothing the legitimate client still needs; a replayed code revokes the whole grant.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import {
  type AuthorizeResult,
  authorize,
  PUBLIC_CLIENT,
  pkcePair,
  type RegisteredClient,
  redeem,
  register,
  tokenRequest,
} from '../support/oauth.js';
import { isConsumed, OTHER_RESOURCE, RESOURCE, rowExists, USER } from '../support/security.js';

const REDIRECT = PUBLIC_CLIENT.redirect_uris[0] as string;

let server: TestServer;
let clientA: RegisteredClient;
let clientB: RegisteredClient;

beforeAll(async () => {
  server = await startTestServer();
  await server.addUser(USER.username, USER.password);
  await server.addResource(RESOURCE, 'Orders DB');
  await server.addResource(OTHER_RESOURCE, 'Other');
  clientA = await register(server.url, PUBLIC_CLIENT);
  clientB = await register(server.url, PUBLIC_CLIENT);
});
afterAll(() => server.close());

const authorizeA = (redirectUri = REDIRECT) =>
  authorize(server.url, { client: clientA, ...USER, resource: RESOURCE, scope: 'mcp:read', redirectUri });

/** The correct redemption of `got` by client A. */
const codeFields = (got: AuthorizeResult): Record<string, string> => ({
  grant_type: 'authorization_code',
  code: got.code ?? '',
  redirect_uri: `${got.location.origin}${got.location.pathname}`,
  code_verifier: got.verifier,
  client_id: clientA.client_id,
});

function postForm(
  body: URLSearchParams | string,
  contentType = 'application/x-www-form-urlencoded',
): Promise<Response> {
  return fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': contentType }, body });
}

/** Asserts a JSON OAuth error with no-store and no token in it. */
async function expectTokenError(res: Response, status: number, error: string, description?: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const body = (await res.json()) as Record<string, unknown>;
  expect(body.error).toBe(error);
  if (description !== undefined) expect(body.error_description).toBe(description);
  expect(body).not.toHaveProperty('access_token');
  expect(body).not.toHaveProperty('refresh_token');
}

const GRANT_INVALID = 'grant request is invalid';

describe('authorization code: refused, and the code is not consumed', () => {
  it.each<[string, number, string, string, (got: AuthorizeResult) => Record<string, string>]>([
    [
      'wrong code_verifier',
      400,
      'invalid_grant',
      GRANT_INVALID,
      (got) => ({ ...codeFields(got), code_verifier: pkcePair().verifier }),
    ],
    [
      'missing code_verifier',
      400,
      'invalid_grant',
      GRANT_INVALID,
      (got) => {
        const { code_verifier: _, ...rest } = codeFields(got);
        return rest;
      },
    ],
    [
      'code_verifier too short',
      400,
      'invalid_request',
      'code_verifier must be a string with a minimum length of 43 characters',
      (got) => ({ ...codeFields(got), code_verifier: 'short' }),
    ],
    [
      'redirect_uri mismatch (another path)',
      400,
      'invalid_grant',
      GRANT_INVALID,
      (got) => ({ ...codeFields(got), redirect_uri: 'http://127.0.0.1:33418/other' }),
    ],
    [
      'redirect_uri mismatch (another loopback port)',
      400,
      'invalid_grant',
      GRANT_INVALID,
      (got) => ({ ...codeFields(got), redirect_uri: 'http://127.0.0.1:5555/callback' }),
    ],
    [
      'code issued to client A redeemed by client B',
      400,
      'invalid_grant',
      GRANT_INVALID,
      (got) => ({ ...codeFields(got), client_id: clientB.client_id }),
    ],
    [
      'unknown client_id',
      401,
      'invalid_client',
      'client authentication failed',
      (got) => ({ ...codeFields(got), client_id: 'no-such-client' }),
    ],
    [
      'no client_id at all',
      400,
      'invalid_request',
      'no client authentication mechanism provided',
      (got) => {
        const { client_id: _, ...rest } = codeFields(got);
        return rest;
      },
    ],
  ])('%s → %i %s', async (_label, status, error, description, fields) => {
    const got = await authorizeA();
    const code = got.code ?? '';
    await expectTokenError(await tokenRequest(server.url, fields(got)), status, error, description);
    expect(await isConsumed(server, 'AuthorizationCode', code)).toBe(false);
    // The legitimate client can still redeem it: nothing was consumed and the grant was not revoked.
    const ok = await redeem(server.url, clientA, got);
    expect(ok.status).toBe(200);
    expect(decodeJwt(ok.body.access_token as string).aud).toBe(RESOURCE);
  });

  it('a duplicated code parameter → 400 invalid_request, code not consumed', async () => {
    const got = await authorizeA();
    const body = new URLSearchParams(codeFields(got));
    body.append('code', got.code ?? '');
    await expectTokenError(await postForm(body), 400, 'invalid_request', "'code' parameter must not be provided twice");
    expect(await isConsumed(server, 'AuthorizationCode', got.code ?? '')).toBe(false);
    expect((await redeem(server.url, clientA, got)).status).toBe(200);
  });

  it('an unknown code → 400 invalid_grant', async () => {
    const got = await authorizeA();
    await expectTokenError(
      await tokenRequest(server.url, { ...codeFields(got), code: 'x'.repeat(43) }),
      400,
      'invalid_grant',
      GRANT_INVALID,
    );
  });

  // oidc-provider fills in the single registered redirect URI when the token request omits it
  // (allowOmittingSingleRegisteredRedirectUri), so an omitted redirect_uri is the registered one.
  it('redirect_uri omitted after an authorization on another loopback port → 400 invalid_grant', async () => {
    const got = await authorizeA('http://127.0.0.1:5555/callback');
    const { redirect_uri: _, ...fields } = codeFields(got);
    await expectTokenError(await tokenRequest(server.url, fields), 400, 'invalid_grant', GRANT_INVALID);
    expect(await isConsumed(server, 'AuthorizationCode', got.code ?? '')).toBe(false);
  });
});

// docs/pitfalls.md#resource-indicators-compared-as-strings: oidc-provider consumes the code before
// it compares the resource, and the retry then counts as a replay that revokes the grant. A wrong
// resource must not cost the agent its code.
describe('authorization code: a resource other than the authorized one', () => {
  it.each([
    ['another registered resource', OTHER_RESOURCE],
    ['an unregistered resource', 'https://evil.example.com/mcp'],
  ])('%s → 400 invalid_target, and the code survives for the correct request', async (_label, resource) => {
    const got = await authorizeA();
    await expectTokenError(
      await tokenRequest(server.url, { ...codeFields(got), resource }),
      400,
      'invalid_target',
      'resource indicator is missing, or unknown',
    );
    expect(await isConsumed(server, 'AuthorizationCode', got.code ?? '')).toBe(false);
    expect((await redeem(server.url, clientA, got)).status).toBe(200);
  });
});

describe('authorization code replay (RFC 6749 §4.1.2, OAuth 2.1 §4.1.3)', () => {
  it('the second redemption → invalid_grant, and the grant from the first is revoked', async () => {
    const got = await authorizeA();
    const first = await redeem(server.url, clientA, got);
    expect(first.status).toBe(200);
    const refreshToken = first.body.refresh_token as string;
    const grantId = decodeJwt(first.body.access_token as string).grant_id as string;
    expect(await rowExists(server, 'Grant', grantId)).toBe(true);
    expect(await rowExists(server, 'RefreshToken', refreshToken)).toBe(true);

    await expectTokenError(await tokenRequest(server.url, codeFields(got)), 400, 'invalid_grant', GRANT_INVALID);

    expect(await rowExists(server, 'Grant', grantId)).toBe(false);
    expect(await rowExists(server, 'RefreshToken', refreshToken)).toBe(false);
    const refresh = await tokenRequest(server.url, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: clientA.client_id,
    });
    await expectTokenError(refresh, 400, 'invalid_grant', GRANT_INVALID);
  });
});

describe('refresh token: refused, and the refresh token is not consumed', () => {
  const refreshFields = (rt: string, extra: Record<string, string> = {}) => ({
    grant_type: 'refresh_token',
    refresh_token: rt,
    client_id: clientA.client_id,
    ...extra,
  });

  it.each<[string, number, string, string, (rt: string) => URLSearchParams]>([
    [
      'used by client B',
      400,
      'invalid_grant',
      GRANT_INVALID,
      (rt) => new URLSearchParams(refreshFields(rt, { client_id: clientB.client_id })),
    ],
    [
      'asking for a scope that was never granted',
      400,
      'invalid_scope',
      'refresh token missing requested scope',
      (rt) => new URLSearchParams(refreshFields(rt, { scope: 'mcp:write' })),
    ],
    [
      'with a duplicated refresh_token',
      400,
      'invalid_request',
      "'refresh_token' parameter must not be provided twice",
      (rt) => {
        const body = new URLSearchParams(refreshFields(rt));
        body.append('refresh_token', rt);
        return body;
      },
    ],
    // The same trap for refresh tokens (docs/pitfalls.md#resource-indicators-compared-as-strings).
    [
      'naming another registered resource',
      400,
      'invalid_target',
      'resource indicator is missing, or unknown',
      (rt) => new URLSearchParams(refreshFields(rt, { resource: OTHER_RESOURCE })),
    ],
    [
      'naming an unregistered resource',
      400,
      'invalid_target',
      'resource indicator is missing, or unknown',
      (rt) => new URLSearchParams(refreshFields(rt, { resource: 'https://evil.example.com/mcp' })),
    ],
  ])('%s → %i %s', async (_label, status, error, description, body) => {
    const token = await redeem(server.url, clientA, await authorizeA());
    const rt = token.body.refresh_token as string;
    await expectTokenError(await postForm(body(rt)), status, error, description);
    expect(await isConsumed(server, 'RefreshToken', rt)).toBe(false);
    const ok = await tokenRequest(server.url, refreshFields(rt));
    expect(ok.status).toBe(200);
  });

  it('an unknown refresh token → 400 invalid_grant', async () => {
    await expectTokenError(
      await tokenRequest(server.url, refreshFields('y'.repeat(43))),
      400,
      'invalid_grant',
      GRANT_INVALID,
    );
  });
});

describe('grant types this server does not offer, or not to this client', () => {
  const UNSUPPORTED = 'unsupported grant_type requested';
  it.each<[string, number, string, string, Record<string, string>]>([
    ['an unknown grant_type', 400, 'unsupported_grant_type', UNSUPPORTED, { grant_type: 'urn:example:nope' }],
    [
      'password',
      400,
      'unsupported_grant_type',
      UNSUPPORTED,
      { grant_type: 'password', username: USER.username, password: USER.password },
    ],
    // Offered, but only to clients registered for them (service clients, device agents:
    // test/grants16/).
    [
      'client_credentials',
      400,
      'invalid_request',
      'requested grant type is not allowed for this client',
      { grant_type: 'client_credentials', scope: 'mcp:read' },
    ],
    ['implicit', 400, 'unsupported_grant_type', UNSUPPORTED, { grant_type: 'implicit' }],
    [
      'device_code',
      400,
      'invalid_request',
      'requested grant type is not allowed for this client',
      { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x' },
    ],
    [
      'token exchange',
      400,
      'unsupported_grant_type',
      UNSUPPORTED,
      { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: 'x' },
    ],
    [
      'jwt-bearer',
      400,
      'unsupported_grant_type',
      UNSUPPORTED,
      { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: 'x' },
    ],
    ['no grant_type', 400, 'invalid_request', "missing required parameter 'grant_type'", {}],
  ])('%s → %i %s', async (_label, status, error, description, fields) => {
    const res = await tokenRequest(server.url, { ...fields, client_id: clientA.client_id });
    await expectTokenError(res, status, error, description);
  });
});

describe('malformed bodies → 4xx with an error JSON', () => {
  const chunked = (body: string) =>
    fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new Blob([body]).stream(),
      duplex: 'half',
    } as RequestInit);
  const JSON_ONLY = 'only application/x-www-form-urlencoded content-type bodies are supported on POST /token';
  const big = `grant_type=refresh_token&refresh_token=${'a'.repeat(100 * 1024)}`;

  it.each<[string, number, string, string, () => Promise<Response>]>([
    [
      'a JSON body',
      400,
      'invalid_request',
      JSON_ONLY,
      () => postForm(JSON.stringify({ grant_type: 'authorization_code', client_id: 'x' }), 'application/json'),
    ],
    ['an empty body', 400, 'invalid_request', 'no client authentication mechanism provided', () => postForm('')],
    ['a 100 KiB body', 413, 'invalid_request', 'request body is too large', () => postForm(big)],
    [
      'a 100 KiB chunked body (no Content-Length)',
      413,
      'invalid_request',
      'request body is too large',
      () => chunked(big),
    ],
  ])('%s → %i %s', async (_label, status, error, description, send) => {
    await expectTokenError(await send(), status, error, description);
  });
});
