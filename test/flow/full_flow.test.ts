import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, redeem, register, tokenRequest } from '../support/oauth.js';

const RESOURCE = 'https://mcp.example.com/mcp';

describe('authorization code flow with PKCE, consent, JWT access token and refresh rotation', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Immediate reuse must be refused here: no grace window (test/hardening/refresh_grace.test.ts).
    server = await startTestServer({ MCP_OAUTH_REFRESH_REUSE_GRACE: '0' });
    await server.addUser('alice', 'correct horse battery');
    await server.addResource(RESOURCE, 'Orders DB');
  });
  afterAll(() => server.close());

  it('issues an audience-bound RFC 9068 JWT verifiable with the published JWKS alone, and rotates refresh tokens', async () => {
    const client = await register(server.url, PUBLIC_CLIENT);
    const got = await authorize(server.url, {
      client,
      username: 'alice',
      password: 'correct horse battery',
      resource: RESOURCE,
      scope: 'mcp:read mcp:write',
    });
    expect(got.location.searchParams.get('error')).toBeNull();
    expect(got.location.searchParams.get('iss')).toBe(server.url);
    expect(got.location.searchParams.get('state')).toBe(got.state);
    expect(got.consentHtml).toContain('Orders DB');
    expect(got.consentHtml).toContain('127.0.0.1');
    expect(got.consentHtml).toContain('>Allow<');
    expect(got.consentHtml).toContain('>Deny<');

    const token = await redeem(server.url, client, got, { resource: RESOURCE });
    expect(token.status).toBe(200);
    expect(token.body.token_type).toBe('Bearer');
    expect(token.body.expires_in).toBe(300);
    expect(typeof token.body.refresh_token).toBe('string');

    const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
    const accessToken = token.body.access_token as string;
    expect(decodeProtectedHeader(accessToken).typ).toBe('at+jwt');
    const { payload } = await jwtVerify(accessToken, jwks, {
      issuer: server.url,
      audience: RESOURCE,
      typ: 'at+jwt',
      algorithms: ['ES256'],
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope', 'grant_id'],
    });
    expect(payload.client_id).toBe(client.client_id);
    expect(payload.scope).toBe('mcp:read mcp:write');
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(300);

    const refreshed = await tokenRequest(server.url, {
      grant_type: 'refresh_token',
      refresh_token: token.body.refresh_token as string,
      client_id: client.client_id,
    });
    expect(refreshed.status).toBe(200);
    const body = (await refreshed.json()) as Record<string, string>;
    expect(body.refresh_token).not.toBe(token.body.refresh_token);
    const again = await jwtVerify(body.access_token as string, jwks, {
      issuer: server.url,
      audience: RESOURCE,
      typ: 'at+jwt',
    });
    expect(again.payload.grant_id).toBe(payload.grant_id);

    // The old refresh token was rotated away: reuse fails.
    const reuse = await tokenRequest(server.url, {
      grant_type: 'refresh_token',
      refresh_token: token.body.refresh_token as string,
      client_id: client.client_id,
    });
    expect(reuse.status).toBe(400);
    expect(((await reuse.json()) as { error: string }).error).toBe('invalid_grant');
  });
});
