// The official MCP TypeScript SDK (@modelcontextprotocol/sdk 1.x) as the agent, against the real
// authorization server over HTTP: RFC 9728 discovery from a stand-in MCP server, RFC 8414
// discovery, dynamic registration, authorization with PKCE + resource indicator, the user's
// login and consent, code exchange, and refresh, all through the SDK's own `auth()`.
import {
  auth,
  discoverAuthorizationServerMetadata,
  discoverOAuthServerInfo,
  refreshAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { InvalidGrantError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { createRemoteJWKSet, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import {
  actAsUser,
  InMemoryOAuthProvider,
  type LoopbackReceiver,
  type ResourceServer,
  startLoopbackReceiver,
  startResourceServer,
} from '../support/mcp_agent.js';
import { CookieBrowser } from '../support/oauth.js';

const PASSWORD = 'correct horse battery staple';
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope', 'grant_id'];

interface Exchange {
  method: string;
  url: string;
  status: number;
  body: unknown;
}

/** A fetch for the SDK that records every request it makes and the JSON it got back. */
function recordingFetch(log: Exchange[]): FetchLike {
  return async (input, init) => {
    const res = await fetch(input, init);
    let body: unknown;
    if ((res.headers.get('content-type') ?? '').includes('json')) body = await res.clone().json();
    log.push({ method: init?.method ?? 'GET', url: String(input), status: res.status, body });
    return res;
  };
}

describe('MCP TypeScript SDK as the agent', () => {
  let server: TestServer;
  let rs: ResourceServer;
  let receiver: LoopbackReceiver;
  let aliceId: string;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    // A replayed refresh token must revoke at once here: no grace window (test/hardening/refresh_grace.test.ts).
    server = await startTestServer({ MCP_OAUTH_REFRESH_REUSE_GRACE: '0' });
    aliceId = (await server.addUser('alice', PASSWORD)).id;
    rs = await startResourceServer({ authorizationServer: server.url });
    await server.addResource(rs.resource, 'SDK Test MCP');
    receiver = await startLoopbackReceiver();
    jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
  });

  afterAll(async () => {
    await receiver?.close();
    await rs?.close();
    await server?.close();
  });

  async function verifyAccessToken(token: string): Promise<JWTPayload> {
    expect(decodeProtectedHeader(token).typ).toBe('at+jwt');
    const { payload } = await jwtVerify(token, jwks, {
      issuer: server.url,
      audience: rs.resource,
      typ: 'at+jwt',
      algorithms: ['ES256'],
      requiredClaims: REQUIRED_CLAIMS,
    });
    return payload;
  }

  /** auth() → REDIRECT, the user allows everything, auth(code) → AUTHORIZED. */
  async function authorizeWithSdk(provider: InMemoryOAuthProvider, opts: { scope?: string; keep?: string[] } = {}) {
    const first = await auth(provider, { serverUrl: rs.resource, ...(opts.scope ? { scope: opts.scope } : {}) });
    expect(first).toBe('REDIRECT');
    const outcome = await actAsUser(provider.lastAuthorizationUrl(), {
      username: 'alice',
      password: PASSWORD,
      ...(opts.keep ? { keep: opts.keep } : {}),
    });
    expect(outcome.location.searchParams.get('error')).toBeNull();
    expect(outcome.code).toBeTruthy();
    const second = await auth(provider, { serverUrl: rs.resource, authorizationCode: outcome.code ?? '' });
    expect(second).toBe('AUTHORIZED');
    return outcome;
  }

  function savedTokens(provider: InMemoryOAuthProvider): OAuthTokens {
    if (!provider.saved) throw new Error('the SDK saved no tokens');
    return provider.saved;
  }

  function savedClient(provider: InMemoryOAuthProvider): OAuthClientInformationMixed {
    if (!provider.client) throw new Error('the SDK saved no client information');
    return provider.client;
  }

  it('discovers the authorization server metadata with the SDK, at both well-known names', async () => {
    const log: Exchange[] = [];
    const metadata = await discoverAuthorizationServerMetadata(server.url, { fetchFn: recordingFetch(log) });
    expect(metadata).toBeDefined();
    // The SDK tries RFC 8414 first; it must be answered there, not only at the OIDC fallback.
    expect(log[0]?.url).toBe(`${server.url}/.well-known/oauth-authorization-server`);
    expect(log[0]?.status).toBe(200);
    expect(log).toHaveLength(1);

    expect(metadata?.issuer).toBe(server.url);
    expect(metadata?.authorization_endpoint).toBe(`${server.url}/authorize`);
    expect(metadata?.token_endpoint).toBe(`${server.url}/token`);
    expect(metadata?.registration_endpoint).toBe(`${server.url}/register`);
    expect(metadata?.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata?.response_types_supported).toContain('code');
    expect(metadata?.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    expect(metadata?.token_endpoint_auth_methods_supported).toContain('none');
    expect(metadata?.scopes_supported).toEqual(expect.arrayContaining(['mcp:read', 'mcp:write']));
    expect((metadata as Record<string, unknown>).authorization_response_iss_parameter_supported).toBe(true);

    const oauth = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    const oidc = await fetch(`${server.url}/.well-known/openid-configuration`);
    expect(oauth.status).toBe(200);
    expect(oidc.status).toBe(200);
    const a = (await oauth.json()) as Record<string, unknown>;
    const b = (await oidc.json()) as Record<string, unknown>;
    expect(a.issuer).toBe(server.url);
    expect(b.issuer).toBe(server.url);
    for (const key of [
      'authorization_endpoint',
      'token_endpoint',
      'registration_endpoint',
      'jwks_uri',
      'code_challenge_methods_supported',
      'scopes_supported',
    ]) {
      expect(a[key], key).toEqual(b[key]);
    }
  });

  it('follows RFC 9728 from the MCP server to this issuer, and the issuer matches authorization_servers[0] exactly', async () => {
    const info = await discoverOAuthServerInfo(rs.resource);
    expect(info.resourceMetadata?.resource).toBe(rs.resource);
    expect(info.authorizationServerUrl).toBe(server.url);
    // SDK v2 and MCP Inspector v2 refuse a metadata document whose issuer differs from it.
    expect(info.authorizationServerMetadata?.issuer).toBe(info.resourceMetadata?.authorization_servers?.[0]);
  });

  it('runs discovery, registration, authorization and code exchange through auth()', async () => {
    const provider = new InMemoryOAuthProvider(receiver.redirectUrl);
    const log: Exchange[] = [];
    const fetchFn = recordingFetch(log);
    rs.hits.length = 0;

    // 1. No client, no tokens: discovery + dynamic registration, then a redirect to /authorize.
    expect(await auth(provider, { serverUrl: rs.resource, fetchFn })).toBe('REDIRECT');
    expect(rs.hits).toContain('GET /.well-known/oauth-protected-resource/mcp');
    const registration = log.find((e) => e.method === 'POST' && e.url === `${server.url}/register`);
    expect(registration?.status).toBe(201);
    const registered = registration?.body as Record<string, unknown>;
    expect(registered.client_secret).toBeUndefined();
    expect(registered.token_endpoint_auth_method).toBe('none');
    expect(registered.redirect_uris).toEqual([receiver.redirectUrl]);
    // Loopback redirect: registered as native so any port works at authorization time.
    expect(registered.application_type).toBe('native');
    const client = savedClient(provider);
    expect(client.client_id).toBe(registered.client_id);

    expect(provider.authorizationUrls).toHaveLength(1);
    const url = provider.lastAuthorizationUrl();
    expect(`${url.origin}${url.pathname}`).toBe(`${server.url}/authorize`);
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('client_id')).toBe(client.client_id);
    expect(url.searchParams.get('redirect_uri')).toBe(receiver.redirectUrl);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('resource')).toBe(rs.resource);
    expect(url.searchParams.get('scope')).toBe('mcp:read mcp:write');
    expect(url.searchParams.get('state')).toBe(provider.lastState);

    // 2. The user's browser: sign in, allow, and get sent back to the agent's loopback listener.
    const outcome = await actAsUser(url, { username: 'alice', password: PASSWORD });
    expect(outcome.loginSeen).toBe(true);
    expect(outcome.consentHtml).toContain('SDK Test Agent');
    expect(outcome.consentHtml).toContain('SDK Test MCP');
    expect(outcome.consentHtml).toContain(rs.resource);
    expect(`${outcome.location.origin}${outcome.location.pathname}`).toBe(receiver.redirectUrl);
    expect(outcome.location.searchParams.get('error')).toBeNull();
    expect(outcome.location.searchParams.get('iss')).toBe(server.url);
    expect(outcome.location.searchParams.get('state')).toBe(provider.lastState);
    const code = outcome.code;
    expect(code).toBeTruthy();

    // 3. Code exchange through the SDK.
    expect(await auth(provider, { serverUrl: rs.resource, authorizationCode: code ?? '', fetchFn })).toBe('AUTHORIZED');
    const tokenCall = log.find((e) => e.method === 'POST' && e.url === `${server.url}/token`);
    expect(tokenCall?.status).toBe(200);
    const tokens = savedTokens(provider);
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.expires_in).toBe(300);
    expect(tokens.scope).toBe('mcp:read mcp:write');
    expect(typeof tokens.refresh_token).toBe('string');
    expect(tokens.refresh_token?.length).toBeGreaterThan(20);
    expect(tokens.issuer).toBe(server.url); // stamped by the SDK with the AS it used

    const payload = await verifyAccessToken(tokens.access_token);
    expect(payload.sub).toBe(aliceId);
    expect(payload.client_id).toBe(client.client_id);
    expect(payload.scope).toBe('mcp:read mcp:write');
    expect(payload.aud).toBe(rs.resource);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(300);
    expect(provider.authorizationUrls).toHaveLength(1);
  });

  it('refreshes through auth() when the access token has expired, without sending the user back to the browser', async () => {
    const provider = new InMemoryOAuthProvider(receiver.redirectUrl);
    await authorizeWithSdk(provider);
    const before = savedTokens(provider);
    const firstPayload = await verifyAccessToken(before.access_token);

    // The agent notices the access token expired (expires_in 0) and asks the SDK again.
    provider.saved = { ...before, expires_in: 0 };
    expect(await auth(provider, { serverUrl: rs.resource })).toBe('AUTHORIZED');
    expect(provider.authorizationUrls).toHaveLength(1); // no new browser round trip

    const after = savedTokens(provider);
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).toBeTruthy();
    expect(after.refresh_token).not.toBe(before.refresh_token); // rotated
    const payload = await verifyAccessToken(after.access_token);
    expect(payload.grant_id).toBe(firstPayload.grant_id);
    expect(payload.sub).toBe(aliceId);
    expect(payload.scope).toBe('mcp:read mcp:write');
  });

  it('refreshAuthorization rotates; a replayed refresh token revokes the grant and auth() falls back to a new authorization', async () => {
    const provider = new InMemoryOAuthProvider(receiver.redirectUrl);
    await authorizeWithSdk(provider);
    const metadata = await discoverAuthorizationServerMetadata(server.url);
    const clientInformation = savedClient(provider);
    const original = savedTokens(provider).refresh_token ?? '';
    const resource = new URL(rs.resource);

    const rotated = await refreshAuthorization(server.url, {
      metadata,
      clientInformation,
      refreshToken: original,
      resource,
    });
    expect(rotated.refresh_token).toBeTruthy();
    expect(rotated.refresh_token).not.toBe(original);
    const payload = await verifyAccessToken(rotated.access_token);
    expect(payload.client_id).toBe(clientInformation.client_id);

    // Replaying the rotated-away token is refused, and (RFC 9700 §4.14.2) the whole grant goes with it.
    await expect(
      refreshAuthorization(server.url, { metadata, clientInformation, refreshToken: original, resource }),
    ).rejects.toBeInstanceOf(InvalidGrantError);
    await expect(
      refreshAuthorization(server.url, {
        metadata,
        clientInformation,
        refreshToken: rotated.refresh_token ?? '',
        resource,
      }),
    ).rejects.toBeInstanceOf(InvalidGrantError);

    // The SDK treats invalid_grant on refresh as "forget the tokens and authorize again".
    provider.saved = { ...rotated, issuer: server.url };
    expect(await auth(provider, { serverUrl: rs.resource })).toBe('REDIRECT');
    expect(provider.invalidated).toContain('tokens');
    expect(provider.saved).toBeUndefined();
    expect(provider.authorizationUrls).toHaveLength(2);
    expect(provider.lastAuthorizationUrl().searchParams.get('client_id')).toBe(clientInformation.client_id);
  });

  it('asks for only the challenged scope (WWW-Authenticate scope + resource_metadata) and gets a token limited to it', async () => {
    const provider = new InMemoryOAuthProvider(receiver.redirectUrl);
    const challenge = await fetch(rs.resource, { method: 'POST' });
    expect(challenge.status).toBe(401);
    const header = challenge.headers.get('www-authenticate') ?? '';
    expect(header).toContain(`resource_metadata="${rs.metadataUrl}"`);

    expect(
      await auth(provider, { serverUrl: rs.resource, resourceMetadataUrl: new URL(rs.metadataUrl), scope: 'mcp:read' }),
    ).toBe('REDIRECT');
    const url = provider.lastAuthorizationUrl();
    expect(url.searchParams.get('scope')).toBe('mcp:read');
    const outcome = await actAsUser(url, { username: 'alice', password: PASSWORD });
    // Only what was asked is ticked on the consent page; the write scope is offered unticked, as not requested.
    expect(outcome.consentHtml).toContain('name="scope" value="mcp:read" checked');
    expect(outcome.consentHtml).not.toContain('name="scope" value="mcp:write"');
    expect(outcome.consentHtml).toContain('<input type="checkbox" name="extra_scope" value="mcp:write">');
    expect(
      await auth(provider, {
        serverUrl: rs.resource,
        resourceMetadataUrl: new URL(rs.metadataUrl),
        authorizationCode: outcome.code ?? '',
      }),
    ).toBe('AUTHORIZED');
    const tokens = savedTokens(provider);
    expect(tokens.scope).toBe('mcp:read');
    expect((await verifyAccessToken(tokens.access_token)).scope).toBe('mcp:read');
  });

  it('gets a read-only token when the user unticks the write scope, and a later request for it asks the user again', async () => {
    const provider = new InMemoryOAuthProvider(receiver.redirectUrl);
    const browser = new CookieBrowser();
    expect(await auth(provider, { serverUrl: rs.resource })).toBe('REDIRECT');
    const declined = await actAsUser(provider.lastAuthorizationUrl(), {
      username: 'alice',
      password: PASSWORD,
      keep: ['mcp:read'],
      browser,
    });
    expect(declined.location.searchParams.get('error')).toBeNull();
    expect(await auth(provider, { serverUrl: rs.resource, authorizationCode: declined.code ?? '' })).toBe('AUTHORIZED');
    const tokens = savedTokens(provider);
    expect(tokens.scope).toBe('mcp:read');
    const first = await verifyAccessToken(tokens.access_token);
    expect(first.scope).toBe('mcp:read');

    // Later the agent needs write access and starts over (same browser session, so no login).
    provider.saved = undefined;
    expect(await auth(provider, { serverUrl: rs.resource, scope: 'mcp:read mcp:write' })).toBe('REDIRECT');
    const stepUp = await actAsUser(provider.lastAuthorizationUrl(), { username: 'alice', password: PASSWORD, browser });
    expect(stepUp.loginSeen).toBe(false);
    // Declined before, asked again: the user decides again, it is not silently dropped or granted.
    expect(stepUp.consentHtml).toContain('value="mcp:write"');
    expect(stepUp.consentHtml).not.toContain('value="mcp:read"'); // already allowed, shown as such
    expect(await auth(provider, { serverUrl: rs.resource, authorizationCode: stepUp.code ?? '' })).toBe('AUTHORIZED');
    const upgraded = await verifyAccessToken(savedTokens(provider).access_token);
    expect(upgraded.scope).toBe('mcp:read mcp:write');
    expect(upgraded.grant_id).toBe(first.grant_id);
  });
});
