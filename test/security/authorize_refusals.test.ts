// GET /authorize: what is refused, how (error page vs redirect to the client) and what is accepted.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, type RegisteredClient, redeem, register } from '../support/oauth.js';
import {
  authorizeParams,
  countRows,
  expectErrorPage,
  expectErrorRedirect,
  getAuthorize,
  OTHER_RESOURCE,
  offeredScopes,
  openInteraction,
  type Params,
  RESOURCE,
  signIn,
  USER,
} from '../support/security.js';

const REDIRECT = PUBLIC_CLIENT.redirect_uris[0] as string; // http://127.0.0.1:33418/callback

let server: TestServer;
let client: RegisteredClient;

beforeAll(async () => {
  server = await startTestServer();
  await server.addUser(USER.username, USER.password);
  // Exactly one resource: requests without `resource` default to it.
  await server.addResource(RESOURCE, 'Orders DB');
  client = await register(server.url, PUBLIC_CLIENT);
  // Errors are redirected only to agents that have completed an authorization (see below).
  await completeAuthorization(server, client);
});
afterAll(() => server.close());

/** Sign-in, consent and code redemption: the agent is then one in use. */
async function completeAuthorization(on: TestServer, agent: RegisteredClient): Promise<void> {
  const got = await authorize(on.url, { client: agent, ...USER, resource: RESOURCE, scope: 'mcp:read' });
  expect((await redeem(on.url, agent, got)).status).toBe(200);
}

describe('refusals that must not be redirected to the client (RFC 6749 §4.1.2.1, RFC 9700 §4.1)', () => {
  const MISMATCH = "redirect_uri did not match any of the client's registered redirect_uris";
  it.each<[string, number, string, string, Params | ((c: RegisteredClient) => Params)]>([
    ['unknown client_id', 400, 'invalid_client', 'client is invalid', { client_id: 'no-such-client' }],
    ['missing client_id', 400, 'invalid_request', "missing required parameter 'client_id'", { client_id: undefined }],
    [
      'duplicate client_id',
      400,
      'invalid_request',
      "'client_id' parameter must not be provided twice",
      (c) => ({ client_id: [c.client_id, c.client_id] }),
    ],
    [
      'redirect_uri: another path on the same host',
      400,
      'invalid_redirect_uri',
      MISMATCH,
      { redirect_uri: 'http://127.0.0.1:33418/other' },
    ],
    [
      'redirect_uri: https where http loopback was registered',
      400,
      'invalid_redirect_uri',
      MISMATCH,
      { redirect_uri: 'https://127.0.0.1:33418/callback' },
    ],
    [
      'redirect_uri: another host',
      400,
      'invalid_redirect_uri',
      MISMATCH,
      { redirect_uri: 'http://evil.example.com/callback' },
    ],
    [
      'redirect_uri: localhost for a registered 127.0.0.1',
      400,
      'invalid_redirect_uri',
      MISMATCH,
      { redirect_uri: 'http://localhost:33418/callback' },
    ],
    [
      'redirect_uri: registered one plus a query',
      400,
      'invalid_redirect_uri',
      MISMATCH,
      { redirect_uri: `${REDIRECT}?next=https://evil.example.com` },
    ],
    [
      'redirect_uri: registered path on another port',
      400,
      'invalid_redirect_uri',
      MISMATCH,
      { redirect_uri: 'http://127.0.0.1:5555/other' },
    ],
  ])('%s → %i %s error page', async (_label, status, error, message, overrides) => {
    const interactions = await countRows(server, 'Interaction');
    const res = await getAuthorize(
      server,
      authorizeParams(client, typeof overrides === 'function' ? overrides(client) : overrides),
    );
    await expectErrorPage(res, status, error, message);
    expect(await countRows(server, 'Interaction')).toBe(interactions);
  });

  it('duplicate redirect_uri for a client with two registered URIs → error page, no redirect at all', async () => {
    const two = await register(server.url, {
      ...PUBLIC_CLIENT,
      redirect_uris: ['http://127.0.0.1:1/a', 'http://127.0.0.1:1/b'],
    });
    const res = await getAuthorize(
      server,
      authorizeParams(two, { redirect_uri: ['http://127.0.0.1:1/a', 'https://evil.example.com/'] }),
    );
    await expectErrorPage(res, 400, 'invalid_request', "'redirect_uri' parameter must not be provided twice");
  });
});

describe('refusals redirected to the registered redirect_uri with error and iss (RFC 9207)', () => {
  const UNKNOWN = 'resource indicator is missing, or unknown';
  const DUPLICATE = (p: string) => `'${p}' parameter must not be provided twice`;
  it.each<[string, string, string, Params]>([
    [
      'missing code_challenge',
      'invalid_request',
      'Authorization Server policy requires PKCE to be used for this request',
      { code_challenge: undefined, code_challenge_method: undefined },
    ],
    [
      'code_challenge without code_challenge_method',
      'invalid_request',
      'code_challenge_method must be provided',
      { code_challenge_method: undefined },
    ],
    [
      'code_challenge_method=plain',
      'invalid_request',
      'not supported value of code_challenge_method',
      { code_challenge_method: 'plain' },
    ],
    [
      'code_challenge_method=S512',
      'invalid_request',
      'not supported value of code_challenge_method',
      { code_challenge_method: 'S512' },
    ],
    [
      'code_challenge too short',
      'invalid_request',
      'code_challenge must be a string with a minimum length of 43 characters',
      { code_challenge: 'abc' },
    ],
    ['unregistered resource', 'invalid_target', UNKNOWN, { resource: 'https://evil.example.com/mcp' }],
    [
      'resource on a registered host but another path',
      'invalid_target',
      UNKNOWN,
      { resource: 'https://mcp.example.com/admin' },
    ],
    [
      'resource with a fragment',
      'invalid_target',
      'resource indicator must not contain a fragment component',
      { resource: `${RESOURCE}#frag` },
    ],
    [
      'resource that is not an absolute URI',
      'invalid_target',
      'resource indicator must be an absolute URI',
      { resource: '/mcp' },
    ],
    ['resource with userinfo', 'invalid_target', UNKNOWN, { resource: 'https://user:pw@mcp.example.com/mcp' }],
    [
      'scope outside the resource',
      'invalid_scope',
      'requested scope is not offered by the resource',
      { scope: 'admin:all' },
    ],
    [
      'a resource scope plus one outside it',
      'invalid_scope',
      'requested scope is not offered by the resource',
      { scope: 'mcp:read admin:all' },
    ],
    ['duplicate scope', 'invalid_request', DUPLICATE('scope'), { scope: ['mcp:read', 'mcp:write'] }],
    [
      'duplicate code_challenge',
      'invalid_request',
      DUPLICATE('code_challenge'),
      { code_challenge: ['a'.repeat(43), 'b'.repeat(43)] },
    ],
    [
      'response_type=code id_token',
      'unsupported_response_type',
      'unsupported response_type requested',
      { response_type: 'code id_token' },
    ],
  ])('%s → %s', async (_label, error, description, overrides) => {
    const interactions = await countRows(server, 'Interaction');
    const res = await getAuthorize(server, authorizeParams(client, overrides));
    const params = expectErrorRedirect(res, server, REDIRECT, error);
    expect(params.get('error_description')).toBe(description);
    expect(await countRows(server, 'Interaction')).toBe(interactions);
  });

  it('duplicate state → invalid_request, and neither value is echoed', async () => {
    const res = await getAuthorize(server, authorizeParams(client, { state: ['st-123', 'st-456'] }));
    expectErrorRedirect(res, server, REDIRECT, 'invalid_request', null);
  });

  // The error is about a duplicated redirect_uri, so it may only go to the one registered URI,
  // never to the attacker's value, whichever order they come in.
  it.each([
    ['attacker value second', [REDIRECT, 'https://evil.example.com/cb']],
    ['attacker value first', ['https://evil.example.com/cb', REDIRECT]],
  ])(
    'duplicate redirect_uri (%s) → invalid_request sent only to the registered redirect_uri',
    async (_label, values) => {
      const res = await getAuthorize(server, authorizeParams(client, { redirect_uri: values }));
      const params = expectErrorRedirect(res, server, REDIRECT, 'invalid_request');
      expect(params.get('error_description')).toBe("'redirect_uri' parameter must not be provided twice");
    },
  );

  it('response_type=token → unsupported_response_type in the fragment (implicit grant is not offered)', async () => {
    const res = await getAuthorize(server, authorizeParams(client, { response_type: 'token' }));
    expectErrorRedirect(res, server, REDIRECT, 'unsupported_response_type');
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.search).toBe('');
    expect(location.hash).toMatch(/^#error=unsupported_response_type&/);
  });

  it('no state: the error redirect carries no state but still iss', async () => {
    const res = await getAuthorize(server, authorizeParams(client, { state: undefined, code_challenge: undefined }));
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('iss')).toBe(server.url);
    expect(location.searchParams.has('state')).toBe(false);
  });
});

describe('accepted requests', () => {
  // A fresh agent per case, so no grant from an earlier case changes what consent shows.
  let agent: RegisteredClient;
  beforeEach(async () => {
    agent = await register(server.url, PUBLIC_CLIENT);
  });

  it('a loopback redirect on another port than registered (RFC 8252 §7.3)', async () => {
    const redirectUri = 'http://127.0.0.1:5555/callback';
    const got = await authorize(server.url, {
      client: agent,
      ...USER,
      resource: RESOURCE,
      scope: 'mcp:read',
      redirectUri,
    });
    expect(`${got.location.origin}${got.location.pathname}`).toBe(redirectUri);
    expect(got.location.searchParams.get('error')).toBeNull();
    expect(got.location.searchParams.get('iss')).toBe(server.url);
    const token = await redeem(server.url, agent, got);
    expect(token.status).toBe(200);
  });

  // docs/pitfalls.md#resource-indicators-compared-as-strings
  it('a resource with a trailing slash: canonical aud, and the trailing-slash form works at /token', async () => {
    const slashed = `${RESOURCE}/`;
    const got = await authorize(server.url, { client: agent, ...USER, resource: slashed, scope: 'mcp:read' });
    expect(got.location.searchParams.get('error')).toBeNull();
    expect(got.code).toEqual(expect.any(String));
    const token = await redeem(server.url, agent, got, { resource: slashed });
    expect(token.status).toBe(200);
    const claims = decodeJwt(token.body.access_token as string);
    expect(claims.aud).toBe(RESOURCE);
    expect(claims.scope).toBe('mcp:read');

    // The refresh, again with the trailing slash, also succeeds (and is not refused as another target).
    const refreshed = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: token.body.refresh_token as string,
        client_id: agent.client_id,
        resource: slashed,
      }),
    });
    expect(refreshed.status).toBe(200);
    const body = (await refreshed.json()) as { access_token: string };
    expect(decodeJwt(body.access_token).aud).toBe(RESOURCE);
  });

  it('no scope requested → the resource default scope (mcp:read) only', async () => {
    const got = await authorize(server.url, { client: agent, ...USER, resource: RESOURCE });
    expect(got.consentHtml).toContain('value="mcp:read"');
    // Asked for is only the default; the write scope is at most offered unticked, as not requested.
    expect(got.consentHtml).not.toContain('name="scope" value="mcp:write"');
    const token = await redeem(server.url, agent, got);
    expect(token.status).toBe(200);
    expect(token.body.scope).toBe('mcp:read');
    expect(decodeJwt(token.body.access_token as string).scope).toBe('mcp:read');
  });

  it('no resource requested with exactly one registered → a token for that one', async () => {
    const got = await authorize(server.url, { client: agent, ...USER, scope: 'mcp:read' });
    expect(got.location.searchParams.get('error')).toBeNull();
    const token = await redeem(server.url, agent, got);
    expect(token.status).toBe(200);
    const claims = decodeJwt(token.body.access_token as string);
    expect(claims.aud).toBe(RESOURCE);
    expect(claims.scope).toBe('mcp:read');
  });

  it('neither scope nor resource → the single resource with its default scope', async () => {
    const got = await authorize(server.url, { client: agent, ...USER });
    const token = await redeem(server.url, agent, got);
    expect(token.status).toBe(200);
    const claims = decodeJwt(token.body.access_token as string);
    expect(claims.aud).toBe(RESOURCE);
    expect(claims.scope).toBe('mcp:read');
  });

  it('the same resource given twice is treated as one', async () => {
    const login = await openInteraction(server, authorizeParams(agent, { resource: [RESOURCE, RESOURCE] }));
    const consent = await signIn(server, login);
    expect(consent.status).toBe(200);
    expect(consent.html).toContain(`<code class="resource-uri">${RESOURCE}</code>`);
    expect(offeredScopes(consent.html)).toEqual(['mcp:read']);
  });
});

// The profile is one MCP server per authorization (consent.ts). With several registered, the agent
// must name one, and hear about it at once instead of after the user has signed in.
describe('with two registered resources', () => {
  let two: TestServer;
  let agent: RegisteredClient;
  beforeAll(async () => {
    two = await startTestServer();
    await two.addUser(USER.username, USER.password);
    await two.addResource(RESOURCE, 'Orders DB');
    await two.addResource(OTHER_RESOURCE, 'Other');
    agent = await register(two.url, PUBLIC_CLIENT);
    await completeAuthorization(two, agent);
  });
  afterAll(() => two.close());

  it.each<[string, Params]>([
    ['no resource', { resource: undefined }],
    ['no resource and no scope', { resource: undefined, scope: undefined }],
    ['both resources at once', { resource: [RESOURCE, OTHER_RESOURCE] }],
  ])('%s → invalid_target redirected to the agent before any sign-in', async (_label, overrides) => {
    const interactions = await countRows(two, 'Interaction');
    const res = await getAuthorize(two, authorizeParams(agent, overrides));
    expectErrorRedirect(res, two, REDIRECT, 'invalid_target');
    expect(await countRows(two, 'Interaction')).toBe(interactions);
  });
});

// RFC 9700 §4.11.2: with open registration, the redirect URIs of an agent nobody has used are just
// what a stranger typed. A request bound to fail would otherwise send the browser there from our
// origin (an open redirector); the error is shown as our page until the agent has completed an
// authorization (a user consented and it redeemed the code).
describe('an agent that never completed an authorization: errors stay on our origin', () => {
  const PHISH = 'https://phish.example/landing';
  let stranger: RegisteredClient;
  beforeEach(async () => {
    stranger = await register(server.url, {
      ...PUBLIC_CLIENT,
      client_name: 'Totally Legit',
      redirect_uris: [PHISH, 'http://127.0.0.1:33418/callback'],
    });
  });

  it.each<[string, string, Params]>([
    ['response_type=token', 'unsupported_response_type', { response_type: 'token' }],
    ['no code_challenge', 'invalid_request', { code_challenge: undefined, code_challenge_method: undefined }],
    ['an unknown scope', 'invalid_scope', { scope: 'admin:all' }],
    ['an unknown resource', 'invalid_target', { resource: 'https://evil.example.com/mcp' }],
    ['prompt=none without a session', 'login_required', { prompt: 'none' }],
    ['response_mode=form_post', 'invalid_request', { response_mode: 'form_post', code_challenge: undefined }],
  ])('%s → %s as a page, nothing sent to the redirect URI', async (_label, error, overrides) => {
    const res = await getAuthorize(server, authorizeParams(stranger, { redirect_uri: PHISH, ...overrides }));
    await expectErrorPage(res, 400, error);
  });

  it('control: the same requests from the agent in use are redirected with error and iss', async () => {
    for (const overrides of [{ response_type: 'token' }, { code_challenge: undefined }, { scope: 'admin:all' }]) {
      const res = await getAuthorize(server, authorizeParams(client, overrides));
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:33418\/callback[?#]error=/);
    }
  });

  it('once it has completed an authorization, its errors are redirected again', async () => {
    const got = await authorize(server.url, {
      client: stranger,
      ...USER,
      resource: RESOURCE,
      scope: 'mcp:read',
      redirectUri: PHISH,
    });
    expect((await redeem(server.url, stranger, got)).status).toBe(200);
    const res = await getAuthorize(server, authorizeParams(stranger, { redirect_uri: PHISH, response_type: 'token' }));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^https:\/\/phish\.example\/landing#error=unsupported_response_type/);
  });

  it('a user who denies on the consent page is sent back to the agent (they saw where it leads)', async () => {
    const got = await authorize(server.url, {
      client: stranger,
      ...USER,
      resource: RESOURCE,
      scope: 'mcp:read',
      decision: 'deny',
    });
    expect(`${got.location.origin}${got.location.pathname}`).toBe(PHISH);
    expect(got.location.searchParams.get('error')).toBe('access_denied');
  });
});
