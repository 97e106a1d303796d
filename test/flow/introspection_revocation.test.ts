import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResourceCredentialRepository } from '../../src/storage/resource_credentials.js';
import { createResourceRepository } from '../../src/storage/resources.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, redeem, register, tokenRequest } from '../support/oauth.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const OTHER = 'https://other.example.com/mcp';

describe('introspection (RFC 7662) for resource servers and revocation (RFC 7009)', () => {
  let server: TestServer;
  let basic: string;
  let otherBasic: string;
  beforeAll(async () => {
    server = await startTestServer();
    await server.addUser('alice', 'correct horse battery');
    await server.addResource(RESOURCE, 'Orders DB');
    await server.addResource(OTHER, 'Other');
    const resources = createResourceRepository(server.sql);
    const creds = createResourceCredentialRepository(server.sql);
    const mine = await creds.create((await resources.findByUri(RESOURCE))?.id ?? -1, { replace: true });
    const theirs = await creds.create((await resources.findByUri(OTHER))?.id ?? -1, { replace: true });
    basic = `Basic ${Buffer.from(`${mine.id}:${mine.secret}`).toString('base64')}`;
    otherBasic = `Basic ${Buffer.from(`${theirs.id}:${theirs.secret}`).toString('base64')}`;
  });
  afterAll(() => server.close());

  const introspect = async (token: string, auth?: string) => {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (auth) headers.authorization = auth;
    const res = await fetch(`${server.url}/introspect`, {
      method: 'POST',
      headers,
      body: new URLSearchParams({ token }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
  };

  async function tokens() {
    const client = await register(server.url, PUBLIC_CLIENT);
    const got = await authorize(server.url, {
      client,
      username: 'alice',
      password: 'correct horse battery',
      resource: RESOURCE,
    });
    const { body } = await redeem(server.url, client, got);
    return { client, access: body.access_token as string, refresh: body.refresh_token as string };
  }

  it('answers active with the claims for the audience resource server, inactive for any other', async () => {
    const { access, client } = await tokens();
    const mine = await introspect(access, basic);
    expect(mine.status).toBe(200);
    expect(mine.headers.get('cache-control')).toBe('no-store');
    expect(mine.body).toMatchObject({ active: true, client_id: client.client_id, aud: RESOURCE, scope: 'mcp:read' });
    const other = await introspect(access, otherBasic);
    expect(other.body).toEqual({ active: false });
    const garbage = await introspect('not.a.jwt', basic);
    expect(garbage.body).toEqual({ active: false });
  });

  it('refuses callers without valid resource-server credentials', async () => {
    const { access } = await tokens();
    const none = await introspect(access);
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('invalid_client');
    const wrong = await introspect(access, `Basic ${Buffer.from('rs_nope:secret').toString('base64')}`);
    expect(wrong.status).toBe(401);
    expect(wrong.body).not.toHaveProperty('active');
  });

  it('revoking the refresh token ends the grant: refresh fails and the access token introspects inactive', async () => {
    const { access, refresh, client } = await tokens();
    const res = await fetch(`${server.url}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: refresh, token_type_hint: 'refresh_token', client_id: client.client_id }),
    });
    expect(res.status).toBe(200);
    const again = await tokenRequest(server.url, {
      grant_type: 'refresh_token',
      refresh_token: refresh,
      client_id: client.client_id,
    });
    expect(again.status).toBe(400);
    expect(((await again.json()) as { error: string }).error).toBe('invalid_grant');
    expect((await introspect(access, basic)).body).toEqual({ active: false });
  });

  it('advertises the introspection endpoint in the metadata', async () => {
    const doc = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >;
    expect(doc.introspection_endpoint).toBe(`${server.url}/introspect`);
  });
});
