// Agents without a user, end to end: an admin registers a service client (admin API with a public key
// for private_key_jwt, the CLI with a secret), the client gets a short-lived audience-bound JWT with
// grant_type=client_credentials through oauth4webapi, the proxy forwards its MCP call saying the
// subject is a client, and disabling the client ends its token at the proxy within a second. And the
// refusals: servers and scopes it was not allowed, a wrong key or secret, open registration.
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { type Chain, expectNoAuthorization, startChain } from '../proxy/helpers.js';
import { cliFor } from '../support/cli.js';
import { register } from '../support/oauth.js';
import { waitFor } from '../support/wait.js';
import { discover, insecure, mcpCall } from './support.js';

const OTHER = 'https://other.example.com/mcp';

describe('client credentials for service clients', () => {
  let chain: Chain;
  let as: oauth.AuthorizationServer;
  let adminToken: string;
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  let keyed: { client_id: string };

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${chain.as.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  // RFC 7662 for resource servers that cannot verify JWTs, with the proxy's resource credential.
  const introspect = async (accessToken: string) => {
    const basic = Buffer.from(`${chain.feed.id}:${chain.feed.secret}`).toString('base64');
    const res = await fetch(`${chain.as.url}/introspect`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: accessToken }),
    });
    return (await res.json()) as Record<string, unknown>;
  };

  const token = (client: oauth.Client, auth: oauth.ClientAuth, params: Record<string, string> = {}) =>
    oauth
      .clientCredentialsGrantRequest(as, client, auth, params, insecure)
      .then((res) => oauth.processClientCredentialsResponse(as, client, res));

  beforeAll(async () => {
    chain = await startChain();
    await chain.as.addResource(OTHER, 'Other MCP');
    as = await discover(chain.as.url);
    adminToken = (await chain.as.app.stores.adminTokens.create('tests', null, epochSeconds())).token;
    keys = await generateKeyPair('ES256', { extractable: true });
    const created = await api('POST', '/admin/api/service-clients', {
      name: 'Nightly report',
      resources: [chain.resource],
      scopes: ['mcp:read'],
      jwks: { keys: [{ ...(await exportJWK(keys.publicKey)), alg: 'ES256', use: 'sig' }] },
    });
    expect(created.status).toBe(201);
    expect(created.body.client_secret).toBeUndefined();
    expect(created.body.token_endpoint_auth_method).toBe('private_key_jwt');
    keyed = { client_id: String(created.body.client_id) };
  });

  afterAll(async () => {
    expectNoAuthorization(chain?.upstream);
    await chain?.close();
  });

  it('advertises the grant', () => {
    expect(as.grant_types_supported).toContain('client_credentials');
    expect(as.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
  });

  it('issues a short-lived audience-bound JWT with no user, which the proxy forwards as a client', async () => {
    // No resource named: the one the client is allowed. No scope named: every scope it is allowed.
    const tokens = await token(keyed, oauth.PrivateKeyJwt(keys.privateKey));
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({ aud: chain.resource, sub: keyed.client_id, client_id: keyed.client_id });
    expect(claims.scope).toBe('mcp:read');
    expect(claims.grant_id).toBeUndefined();
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(chain.as.config.accessTokenTtl);
    expect(tokens.refresh_token).toBeUndefined();

    const res = await mcpCall(chain.resource, tokens.access_token);
    expect(res.status).toBe(200);
    await res.body?.cancel();
    const seen = chain.upstream.seen.at(-1) ?? {};
    expect(seen['x-mcp-subject-type']).toBe('client');
    expect(seen['x-mcp-subject']).toBe(keyed.client_id);
    expect(seen['x-mcp-client-id']).toBe(keyed.client_id);

    // Named explicitly, the same.
    const named = await token(keyed, oauth.PrivateKeyJwt(keys.privateKey), { resource: chain.resource });
    expect(decodeJwt(named.access_token).aud).toBe(chain.resource);
    // The audit trail names the client and the server, with no user.
    const row = (await chain.as.sql.get(
      "SELECT * FROM audit_events WHERE event = 'token.issued' AND client_id = ? ORDER BY id DESC LIMIT 1",
      [keyed.client_id],
    )) as { user_id: string | null; resource: string };
    expect(row).toMatchObject({ user_id: null, resource: chain.resource });
  });

  it('refuses servers, scopes and keys the admin did not allow', async () => {
    const auth = () => oauth.PrivateKeyJwt(keys.privateKey);
    await expect(token(keyed, auth(), { resource: OTHER })).rejects.toMatchObject({ error: 'invalid_target' });
    await expect(token(keyed, auth(), { resource: 'https://unknown.example.com/mcp' })).rejects.toMatchObject({
      error: 'invalid_target',
    });
    await expect(token(keyed, auth(), { scope: 'mcp:write' })).rejects.toMatchObject({ error: 'invalid_scope' });
    const stranger = await generateKeyPair('ES256');
    await expect(token(keyed, oauth.PrivateKeyJwt(stranger.privateKey))).rejects.toMatchObject({
      error: 'invalid_client',
    });
  });

  it('gives a secret only when the admin asks for one, once; a wrong secret is refused', async () => {
    const cli = cliFor(chain.as.dataDir);
    const made = await cli.run([
      'clients',
      'add-service',
      '--name',
      'Backup job',
      '--resource',
      `${chain.resource}/`,
      '--resource',
      OTHER,
      '--scope',
      'mcp:read',
      '--scope',
      'mcp:write',
      '--secret',
      '--json',
    ]);
    expect(made.code).toBe(0);
    const out = JSON.parse(made.out) as { client_id: string; client_secret: string; resources: string[] };
    expect(out.resources).toEqual([chain.resource, OTHER]);
    const client = { client_id: out.client_id };
    // Allowed two servers: it must say which.
    await expect(token(client, oauth.ClientSecretBasic(out.client_secret))).rejects.toMatchObject({
      error: 'invalid_target',
    });
    const tokens = await token(client, oauth.ClientSecretBasic(out.client_secret), {
      resource: OTHER,
      scope: 'mcp:write',
    });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ aud: OTHER, scope: 'mcp:write' });
    await expect(token(client, oauth.ClientSecretBasic('not-the-secret'), { resource: OTHER })).rejects.toMatchObject({
      status: 401,
      cause: [{ parameters: { error: 'invalid_client' } }],
    });
    // Never shown again.
    const listed = await cli.run(['clients', 'services', '--json']);
    expect(listed.out).not.toContain(out.client_secret);
    expect(listed.out).toContain('Backup job');
    const shown = await cli.run(['clients', 'show', out.client_id, '--json']);
    expect(shown.out).not.toContain(out.client_secret);
    // Deleted: no record left, no token.
    expect((await cli.run(['clients', 'delete', out.client_id])).code).toBe(0);
    expect(await chain.as.app.stores.serviceClients.find(out.client_id)).toBeUndefined();
    await expect(token(client, oauth.ClientSecretBasic(out.client_secret), { resource: OTHER })).rejects.toMatchObject({
      status: 401,
    });
  });

  it('refuses bad registrations with a clear error and writes nothing', async () => {
    const before = (await chain.as.app.stores.serviceClients.list()).length;
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const cases: [unknown, string][] = [
      [{ name: 'x', resources: [chain.resource], scopes: ['mcp:read'] }, 'public keys'],
      [
        { name: 'x', resources: [chain.resource], scopes: ['mcp:read'], jwks: { keys: [await exportJWK(privateKey)] } },
        'public keys only',
      ],
      [
        { name: 'x', resources: ['https://unknown.example.com/mcp'], scopes: ['mcp:read'], secret: true },
        'no MCP server',
      ],
      [{ name: 'x', resources: [chain.resource], scopes: ['admin:all'], secret: true }, 'offers the scope'],
      [{ name: '', resources: [chain.resource], scopes: ['mcp:read'], secret: true }, 'name'],
      [{ name: 'x', resources: 'nope', scopes: ['mcp:read'], secret: true }, 'array of strings'],
      [{ name: 'x', resources: [chain.resource], scopes: ['mcp:read'], jwks: { keys: [] } }, 'JWK Set'],
    ];
    for (const [body, message] of cases) {
      const res = await api('POST', '/admin/api/service-clients', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(String(res.body.error_description)).toContain(message);
    }
    expect((await chain.as.app.stores.serviceClients.list()).length).toBe(before);
  });

  it('is never available through open registration', async () => {
    for (const grants of [['client_credentials'], ['authorization_code', 'client_credentials']]) {
      const res = await fetch(`${chain.as.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          client_name: 'Sneaky',
          grant_types: grants,
          response_types: grants.includes('authorization_code') ? ['code'] : [],
          redirect_uris: grants.includes('authorization_code') ? ['https://sneaky.example.com/cb'] : [],
          token_endpoint_auth_method: 'client_secret_basic',
        }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_client_metadata' });
    }
    // A registered confidential agent cannot use the grant either.
    const agent = await register(chain.as.url, {
      client_name: 'Web agent',
      redirect_uris: ['https://agent.example.com/cb'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    await expect(
      token({ client_id: agent.client_id }, oauth.ClientSecretBasic(String(agent.client_secret)), {
        resource: chain.resource,
      }),
    ).rejects.toMatchObject({
      error: 'invalid_request',
      error_description: 'requested grant type is not allowed for this client',
    });
    // Deny by default: a client record that allows the grant but that no admin made a service
    // client (written straight into the database) still gets nothing.
    await chain.as.app.stores.oidc.upsert(
      'Client',
      'planted',
      {
        client_id: 'planted',
        client_secret: 'planted-secret-planted-secret-planted',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      undefined,
    );
    await expect(
      token({ client_id: 'planted' }, oauth.ClientSecretBasic('planted-secret-planted-secret-planted'), {
        resource: chain.resource,
      }),
    ).rejects.toMatchObject({ error: 'unauthorized_client' });
  });

  it('disabling the client ends its tokens at the proxy through the revocation feed, and it gets no new ones', async () => {
    const tokens = await token(keyed, oauth.PrivateKeyJwt(keys.privateKey));
    const first = await mcpCall(chain.resource, tokens.access_token);
    expect(first.status).toBe(200);
    await first.body?.cancel();
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, sub: keyed.client_id });

    const disabled = await api('POST', `/admin/api/clients/${encodeURIComponent(keyed.client_id)}/disable`);
    expect(disabled.body).toMatchObject({ disabled: true, changed: true });
    await waitFor(async () => {
      const res = await mcpCall(chain.resource, tokens.access_token);
      await res.body?.cancel();
      return res.status === 401;
    }, 'the proxy to refuse the disabled client’s token');
    await expect(token(keyed, oauth.PrivateKeyJwt(keys.privateKey))).rejects.toMatchObject({
      error: 'invalid_client',
    });
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
    const listed = await api('GET', '/admin/api/service-clients');
    const mine = (listed.body.service_clients as { clientId: string; disabled: boolean }[]).find(
      (s) => s.clientId === keyed.client_id,
    );
    expect(mine?.disabled).toBe(true);
    // Enabled again: the tokens it held before stay dead (the feed's client cutoff).
    await api('POST', `/admin/api/clients/${encodeURIComponent(keyed.client_id)}/enable`);
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
    const stillDead = await mcpCall(chain.resource, tokens.access_token);
    expect(stillDead.status).toBe(401);
    await stillDead.body?.cancel();
  });
});
