// The authorization server's side of DPoP (RFC 9449), driven by oauth4webapi over real HTTP: the
// metadata, access tokens bound to the agent's key (`cnf.jkt`, token_type DPoP), a public client's
// refresh token bound to the same key, introspection carrying the binding, and server nonces that
// hold on another node sharing the database (the same as after a restart).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, decodeJwt, exportJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app/app.js';
import { createLogger } from '../../src/log/logger.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, redeem, register } from '../support/oauth.js';
import { dpopAgent, newKey, PASSWORD, proof, refresh } from './support.js';

const RESOURCE = 'https://notes.example.com/mcp';

describe('DPoP at the authorization server', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
    await server.addResource(RESOURCE, 'Notes');
    await server.addUser('alice', PASSWORD);
  });
  afterAll(async () => server?.close());

  it('advertises the proof algorithms it accepts', async () => {
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >;
    expect(meta.dpop_signing_alg_values_supported).toEqual(['ES256', 'Ed25519', 'EdDSA']);
  });

  it("binds the access token and the public client's refresh token to the agent's key", async () => {
    const agent = await dpopAgent(server, RESOURCE, { username: 'alice' });
    expect(agent.tokens.token_type).toBe('dpop');
    const jkt = await calculateJwkThumbprint(await exportJWK(agent.key.publicKey));
    const claims = decodeJwt(agent.tokens.access_token);
    expect(claims.cnf).toEqual({ jkt });
    expect(claims.aud).toBe(RESOURCE);

    // The refresh token works only with a proof from the same key...
    const thief = oauth.DPoP(agent.client, await newKey());
    await expect(refresh(agent, thief)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(refresh(agent, null)).rejects.toMatchObject({ error: 'invalid_grant' });
    // ...and the refused attempts did not cost the agent its grant.
    const renewed = await refresh(agent);
    expect(renewed.token_type).toBe('dpop');
    expect(decodeJwt(renewed.access_token).cnf).toEqual({ jkt });
  });

  it('an agent registered with dpop_bound_access_tokens cannot redeem its code without a proof', async () => {
    const registered = await register(server.url, { ...PUBLIC_CLIENT, dpop_bound_access_tokens: true });
    expect(registered.dpop_bound_access_tokens).toBe(true);
    const got = await authorize(server.url, {
      client: registered,
      username: 'alice',
      password: PASSWORD,
      resource: RESOURCE,
    });
    const without = await redeem(server.url, registered, got, { resource: RESOURCE });
    expect(without.status).toBe(400);
    expect(without.body.error).toBe('invalid_grant');
    // The refusal consumed nothing: the same code, now with a proof, gives a bound token.
    const key = await newKey();
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        dpop: await proof(key, { htm: 'POST', htu: `${server.url}/token` }),
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: got.code ?? '',
        redirect_uri: registered.redirect_uris[0] ?? '',
        code_verifier: got.verifier,
        client_id: registered.client_id,
        resource: RESOURCE,
      }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.token_type).toBe('DPoP');
  });

  it('refuses a proof for another endpoint or method at the token endpoint', async () => {
    const key = await newKey();
    const { client_id } = await register(server.url, PUBLIC_CLIENT);
    for (const claims of [
      { htm: 'POST', htu: `${server.url}/authorize` },
      { htm: 'GET', htu: `${server.url}/token` },
    ]) {
      const bad = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await proof(key, claims) },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id }),
      });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error?: string }).error).toBe('invalid_dpop_proof');
    }
  });

  it('introspection returns the binding of a DPoP-bound token', async () => {
    const resourceId = (await server.app.stores.resources.findByUri(RESOURCE))?.id ?? -1;
    const credential = await server.app.stores.credentials.create(resourceId, { replace: true });
    const agent = await dpopAgent(server, RESOURCE, { username: 'alice' });
    const res = await fetch(`${server.url}/introspect`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${credential.id}:${credential.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: agent.tokens.access_token }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.active).toBe(true);
    expect(body.token_type).toBe('DPoP');
    expect(body.cnf).toEqual({ jkt: await calculateJwkThumbprint(await exportJWK(agent.key.publicKey)) });
  });
});

describe('DPoP nonces (MCP_OAUTH_DPOP_REQUIRE_NONCE=true)', () => {
  let server: TestServer;
  let other: TestServer;
  let secondNode: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    server = await startTestServer({ MCP_OAUTH_DPOP_REQUIRE_NONCE: 'true' });
    await server.addResource(RESOURCE, 'Notes');
    await server.addUser('alice', PASSWORD);
    other = await startTestServer({ MCP_OAUTH_DPOP_REQUIRE_NONCE: 'true' });
    // A second node on the same database: a provider built anew, with nothing in memory from the
    // first (what a restart also gives).
    const app = await buildApp(server.config, server.sql, createLogger('silent'));
    const http: Server = createServer(app.handler);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    secondNode = {
      url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
      close: async () => {
        const closed = new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeAllConnections();
        await closed;
      },
    };
  });
  afterAll(async () => {
    await secondNode?.close();
    await other?.close();
    await server?.close();
  });

  it('asks for a nonce first, then issues the bound token (oauth4webapi retries with it)', async () => {
    const agent = await dpopAgent(server, RESOURCE, { username: 'alice' });
    expect(agent.nonceRetries).toBe(1);
    expect(agent.tokens.token_type).toBe('dpop');
  });

  it("accepts a nonce from another node sharing the database, and refuses one from another server's", async () => {
    const agent = await dpopAgent(server, RESOURCE, { username: 'alice' });
    const withNonce = async (base: string, nonce: string | undefined, refreshToken: string) =>
      fetch(`${base}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          dpop: await proof(agent.key, { htm: 'POST', htu: `${base}/token`, ...(nonce ? { nonce } : {}) }),
        },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
          client_id: agent.client.client_id,
        }),
      });
    // A nonce issued by the first node.
    const ask = await withNonce(server.url, undefined, agent.tokens.refresh_token ?? '');
    expect(ask.status).toBe(400);
    expect(((await ask.json()) as { error?: string }).error).toBe('use_dpop_nonce');
    const nonce = ask.headers.get('dpop-nonce') ?? '';
    expect(nonce).not.toBe('');

    // Another server (its own database, its own secret) does not know it.
    const { client_id } = await register(other.url, PUBLIC_CLIENT);
    const foreign = await fetch(`${other.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        dpop: await proof(agent.key, { htm: 'POST', htu: `${other.url}/token`, nonce }),
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id }),
    });
    expect(foreign.status).toBe(400);
    expect(((await foreign.json()) as { error?: string }).error).toBe('use_dpop_nonce');

    // The second node accepts it and refreshes.
    const ok = await withNonce(secondNode.url, nonce, agent.tokens.refresh_token ?? '');
    const body = (await ok.json()) as Record<string, unknown>;
    expect(ok.status, JSON.stringify(body)).toBe(200);
    expect(body.token_type).toBe('DPoP');
  });
});
