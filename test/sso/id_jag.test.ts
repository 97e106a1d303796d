// Enterprise-managed authorization (ID-JAG): an agent trades an Identity Assertion JWT Authorization
// Grant signed by the company's identity provider (a real oidc-provider instance publishing the key,
// ./idp.ts) for an access token, with no consent page; and every check refuses what it should.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRemoteJWKSet, exportJWK, generateKeyPair, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JWT_BEARER } from '../../src/provider/id_jag.js';
import { NO_PASSWORD } from '../../src/web/sso.js';
import { RESOURCE, RESOURCE_NAME } from '../support/account.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { PUBLIC_CLIENT, type RegisteredClient, register, tokenRequest } from '../support/oauth.js';
import { startTestIdp, type TestIdp } from './idp.js';

const OTHER_RESOURCE = 'https://billing.example.com/mcp';
type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

describe('ID-JAG (enterprise-managed authorization)', () => {
  let idp: TestIdp;
  let server: TestServer;
  let dir: string;
  let client: RegisteredClient;
  let privateKey: Key;
  let userId: string;
  const KID = 'idp-key-1';

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.privateKey)), kid: KID, alg: 'ES256', use: 'sig' };
    idp = await startTestIdp({ signingKey: jwk });
    dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-idjag-'));
    server = await startTestServer({
      MCP_OAUTH_IDPS_FILE: idp.writeConfig(dir, {
        allowed_groups: ['staff'],
        id_jag: { resources: [RESOURCE], scopes: ['mcp:read'] },
      }),
    });
    await server.addResource(RESOURCE, RESOURCE_NAME);
    await server.addResource(OTHER_RESOURCE, 'Billing');
    idp.start(`${server.url}/sso/callback`);
    // Ann signed in through the provider before: her upstream account is linked.
    const { users, identities } = server.app.stores;
    userId = (await users.create('ann@acme.test', NO_PASSWORD, false)).id;
    await identities.link({
      issuer: idp.issuer,
      subject: 'ann',
      provider: 'acme',
      userId,
      email: 'ann@acme.test',
      refreshToken: null,
    });
    client = await register(server.url, {
      client_name: 'Enterprise agent',
      grant_types: ['authorization_code', JWT_BEARER],
      response_types: ['code'],
      redirect_uris: ['https://agent.example/callback'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
  });
  afterAll(async () => {
    await server?.close();
    await idp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function assertion(
    claims: JWTPayload = {},
    opts: { typ?: string; key?: Key; expires?: string | number } = {},
  ): Promise<string> {
    const { iss = idp.issuer, sub = 'ann', aud = server.url, ...rest } = claims;
    return new SignJWT({
      client_id: client.client_id,
      resource: RESOURCE,
      scope: 'mcp:read',
      jti: randomUUID(),
      ...rest,
    })
      .setProtectedHeader({ alg: 'ES256', typ: opts.typ ?? 'oauth-id-jag+jwt', kid: KID })
      .setIssuer(iss)
      .setSubject(sub)
      .setAudience(aud)
      .setIssuedAt()
      .setExpirationTime(opts.expires ?? '5m')
      .sign(opts.key ?? privateKey);
  }

  const basic = (c: RegisteredClient, secret = c.client_secret ?? '') =>
    `Basic ${Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

  async function trade(jwt: string, extra: Record<string, string> = {}, auth = basic(client)) {
    const res = await tokenRequest(server.url, { grant_type: JWT_BEARER, assertion: jwt, ...extra }, auth);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('advertises the grant', async () => {
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as {
      grant_types_supported: string[];
    };
    expect(meta.grant_types_supported).toContain(JWT_BEARER);
  });

  it('issues an audience-bound token for the linked user, with no consent page; the same assertion only once', async () => {
    const jwt = await assertion();
    const got = await trade(jwt, { resource: RESOURCE });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ token_type: 'Bearer', scope: 'mcp:read' });
    expect(got.body.refresh_token).toBeUndefined();
    const { payload } = await jwtVerify(
      String(got.body.access_token),
      createRemoteJWKSet(new URL(`${server.url}/jwks`)),
      {
        issuer: server.url,
        audience: RESOURCE,
      },
    );
    expect(payload).toMatchObject({ sub: userId, client_id: client.client_id, scope: 'mcp:read' });
    const record = await server.app.stores.grantRecords.find(String(payload.grant_id));
    expect(record).toMatchObject({ accountId: userId, clientId: client.client_id, resource: RESOURCE });

    const again = await trade(jwt);
    expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it.each<[string, () => Promise<string>, Record<string, string>, string]>([
    ['another type', () => assertion({}, { typ: 'JWT' }), {}, 'invalid_grant'],
    ['another audience', () => assertion({ aud: 'https://other-as.example' }), {}, 'invalid_grant'],
    ['another client', () => assertion({ client_id: 'someone-else' }), {}, 'invalid_grant'],
    [
      'an expired assertion',
      () => assertion({}, { expires: Math.floor(Date.now() / 1000) - 120 }),
      {},
      'invalid_grant',
    ],
    ['no jti', () => assertion({ jti: undefined }), {}, 'invalid_grant'],
    ['an unknown subject', () => assertion({ sub: 'nobody' }), {}, 'invalid_grant'],
    ['an untrusted issuer', () => assertion({ iss: 'https://idp.evil.example' }), {}, 'invalid_grant'],
    ['a server outside the policy', () => assertion({ resource: OTHER_RESOURCE }), {}, 'invalid_target'],
    ['a resource other than the assertion', () => assertion(), { resource: OTHER_RESOURCE }, 'invalid_target'],
    [
      'a scope outside the policy',
      () => assertion({ scope: 'mcp:read mcp:write' }),
      { scope: 'mcp:write' },
      'invalid_scope',
    ],
    [
      'a scope outside the assertion',
      () => assertion({ scope: 'mcp:read' }),
      { scope: 'mcp:read mcp:write' },
      'invalid_scope',
    ],
  ])('refuses %s', async (_name, make, extra, error) => {
    const got = await trade(await make(), extra);
    expect(got.status).toBe(400);
    expect(got.body.error).toBe(error);
  });

  it('refuses an assertion signed with a key the provider does not publish', async () => {
    const { privateKey: other } = await generateKeyPair('ES256');
    const got = await trade(await assertion({}, { key: other }));
    expect(got.body.error).toBe('invalid_grant');
  });

  it('refuses a public client and a wrong client secret', async () => {
    const pub = await register(server.url, { ...PUBLIC_CLIENT, grant_types: ['authorization_code', JWT_BEARER] });
    const publicTry = await tokenRequest(server.url, {
      grant_type: JWT_BEARER,
      assertion: await assertion({ client_id: pub.client_id }),
      client_id: pub.client_id,
    });
    expect(publicTry.status).toBe(400);
    expect(((await publicTry.json()) as { error: string }).error).toBe('unauthorized_client');
    const wrong = await trade(await assertion(), {}, basic(client, 'not-the-secret'));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
  });

  it('holds the per-agent policy: a server outside it is refused', async () => {
    const policies = server.app.stores.agentPolicies;
    const rules = { resources: [OTHER_RESOURCE], scopes: null, readOnly: false };
    const policy = await policies.set({ kind: 'client', value: client.client_id }, rules, 'cli', 0);
    try {
      const got = await trade(await assertion());
      expect(got).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    } finally {
      await policies.remove(policy.id);
    }
  });

  it("holds the server's label: a confidential server gets short-lived tokens", async () => {
    await server.app.stores.resourceLabels.set(RESOURCE, 'confidential', 'cli', 0);
    try {
      const got = await trade(await assertion(), { resource: RESOURCE });
      expect(got.status).toBe(200);
      expect(got.body.expires_in).toBe(server.config.labels.sensitiveTokenTtl);
    } finally {
      await server.app.stores.resourceLabels.set(RESOURCE, null, 'cli', 0);
    }
  });

  it('refuses a disabled user', async () => {
    await server.app.stores.users.setDisabled(userId, true);
    try {
      expect((await trade(await assertion())).body.error).toBe('invalid_grant');
    } finally {
      await server.app.stores.users.setDisabled(userId, false);
    }
  });
});
