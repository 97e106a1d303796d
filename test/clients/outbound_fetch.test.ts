// Every URL the server fetches on someone's behalf goes through one guard. Here: a registered
// client's jwks_uri (fetched when it authenticates with private_key_jwt), which open registration
// refuses unless the operator allows it, and which even then never reaches a loopback listener.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { createOutboundFetch, isSpecialUseAddress, refusalOf } from '../../src/provider/outbound_fetch.js';
import type { TestServer } from '../support/app.js';
import { tokenRequest } from '../support/oauth.js';
import { type DocumentServer, MCP, startCimdServer, startDocumentServer } from './support.js';

/** A plain TCP listener on 127.0.0.1 that counts the connections it accepts (and answers none). */
async function countingListener(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const KEYS = await generateKeyPair('ES256');
const PUBLIC_JWK = { ...(await exportJWK(KEYS.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };

function keyClient(jwksUri: string): Record<string, unknown> {
  return {
    client_name: 'Key Agent',
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks_uri: jwksUri,
  };
}

function postRegister(target: TestServer, body: unknown): Promise<Response> {
  return fetch(`${target.url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** A token request authenticated with a private_key_jwt client assertion (RFC 7523 §2.2). */
async function tokenWithAssertion(target: TestServer, clientId: string): Promise<Response> {
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(`${target.url}/token`)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(KEYS.privateKey);
  return tokenRequest(target.url, {
    grant_type: 'authorization_code',
    code: 'not-a-code',
    redirect_uri: 'http://127.0.0.1/callback',
    code_verifier: 'x'.repeat(43),
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
  });
}

let docs: DocumentServer;
let listener: Awaited<ReturnType<typeof countingListener>>;
beforeAll(async () => {
  docs = await startDocumentServer();
  listener = await countingListener();
});
afterAll(async () => {
  await listener?.close();
  await docs?.close();
});

describe('open registration refuses what would make the server fetch a URL of the registrant’s choosing', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startCimdServer(docs);
  });
  afterAll(() => server?.close());

  it.each<[string, Record<string, unknown>, string]>([
    [
      'private_key_jwt with a jwks_uri at a loopback port',
      keyClient('http://127.0.0.1:9/internal?x=1'),
      'jwks_uri is not accepted in open registration on this server',
    ],
    [
      'private_key_jwt with inline keys',
      { ...keyClient('x'), jwks_uri: undefined, jwks: { keys: [PUBLIC_JWK] } },
      'token_endpoint_auth_method private_key_jwt is not accepted in open registration on this server',
    ],
    [
      'a jwks_uri on a public client',
      { ...keyClient('https://keys.example.com/jwks'), token_endpoint_auth_method: 'none' },
      'jwks_uri is not accepted in open registration on this server',
    ],
    [
      'a sector_identifier_uri',
      {
        ...keyClient('x'),
        jwks_uri: undefined,
        token_endpoint_auth_method: 'none',
        sector_identifier_uri: 'https://a.example.com/s.json',
      },
      'sector_identifier_uri is not accepted in open registration on this server',
    ],
  ])('%s → 400 invalid_client_metadata, nothing stored', async (_name, body, description) => {
    const before = await server.sql.get("SELECT count(*) AS n FROM oidc_models WHERE model = 'Client'");
    const res = await postRegister(server, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_client_metadata', error_description: description });
    expect(await server.sql.get("SELECT count(*) AS n FROM oidc_models WHERE model = 'Client'")).toEqual(before);
    expect(listener.connections()).toBe(0);
  });
  // oidc-provider here supports request_uri for nothing (no pushed authorization requests, no
  // request objects by reference): the member is not client metadata it knows, and is dropped.
  it('request_uris are dropped, and a request_uri at /authorize is never fetched', async () => {
    const body = { ...keyClient('x'), jwks_uri: undefined, token_endpoint_auth_method: 'none' };
    const res = await postRegister(server, { ...body, request_uris: [`https://127.0.0.1:${listener.port}/r`] });
    expect(res.status).toBe(201);
    const client = (await res.json()) as { client_id: string };
    expect(client).not.toHaveProperty('request_uris');
    const params = new URLSearchParams({
      client_id: client.client_id,
      response_type: 'code',
      request_uri: `https://localhost:${listener.port}/r`,
    });
    const authz = await fetch(`${server.url}/authorize?${params}`, { redirect: 'manual' });
    expect(authz.status).toBeGreaterThanOrEqual(300);
    expect(authz.status).toBeLessThan(500);
    expect(listener.connections()).toBe(0);
  });
});

describe('a metadata document that authenticates with private_key_jwt', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startCimdServer(docs);
  });
  afterAll(() => server?.close());

  it('has its jwks_uri fetched through the same guard: an IP literal is never connected to', async () => {
    const path = '/doc-keys/ip.json';
    const url = docs.serve(path, {
      body: {
        ...keyClient(`https://127.0.0.1:${listener.port}/jwks`),
        client_id: `${docs.origin}${path}`,
      },
    });
    const res = await tokenWithAssertion(server, url);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
    expect(docs.hits.get(path)).toBe(1);
    expect(listener.connections()).toBe(0);
  });

  it('and a jwks_uri on an allowed name works (development loopback allowance)', async () => {
    const keys = docs.serve('/doc-keys/jwks.json', { body: { keys: [PUBLIC_JWK] } });
    const path = '/doc-keys/ok.json';
    const url = docs.serve(path, { body: { ...keyClient(keys), client_id: `${docs.origin}${path}` } });
    const res = await tokenWithAssertion(server, url);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
    expect(docs.hits.get('/doc-keys/jwks.json')).toBe(1);
  });
});

describe('registration with an initial access token (not open) may name a jwks_uri', () => {
  const TOKEN = 'initial-access-token-for-the-outbound-fetch-tests';
  let server: TestServer;
  beforeAll(async () => {
    server = await startCimdServer(docs, { MCP_OAUTH_REGISTRATION: 'token', MCP_OAUTH_REGISTRATION_TOKEN: TOKEN });
  });
  afterAll(() => server?.close());

  it('private_key_jwt with a jwks_uri → 201', async () => {
    const res = await fetch(`${server.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(keyClient('https://keys.example.com/jwks.json')),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { jwks_uri: string }).jwks_uri).toBe('https://keys.example.com/jwks.json');
  });
});

describe('with MCP_OAUTH_OPEN_REGISTRATION_FETCHED_URIS=on, the jwks_uri fetch still goes through the guard', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startCimdServer(docs, { MCP_OAUTH_OPEN_REGISTRATION_FETCHED_URIS: 'on' });
    await server.addResource(MCP, 'Orders DB');
  });
  afterAll(() => server?.close());

  it.each([
    ['http at 127.0.0.1', () => `http://127.0.0.1:${listener.port}/internal?x=1`],
    ['https at 127.0.0.1', () => `https://127.0.0.1:${listener.port}/internal?x=1`],
    ['https at an IPv4-mapped IPv6 literal', () => `https://[::ffff:127.0.0.1]:${listener.port}/jwks`],
  ])('a jwks_uri %s: invalid_client at /token, never connected to', async (_name, uri) => {
    const reg = await postRegister(server, keyClient(uri()));
    expect(reg.status).toBe(201);
    const { client_id } = (await reg.json()) as { client_id: string };
    const res = await tokenWithAssertion(server, client_id);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
    expect(listener.connections()).toBe(0);
  });

  it('a jwks_uri on a name allowed to resolve to loopback (development) is fetched: the check above is real', async () => {
    const url = docs.serve('/keys/jwks.json', { body: { keys: [PUBLIC_JWK] } });
    const reg = await postRegister(server, keyClient(url));
    expect(reg.status).toBe(201);
    const { client_id } = (await reg.json()) as { client_id: string };
    const res = await tokenWithAssertion(server, client_id);
    // Authenticated; only the made-up code is refused.
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
    expect(docs.hits.get('/keys/jwks.json')).toBe(1);
  });

  it('a jwks_uri that redirects is not followed', async () => {
    docs.serve('/keys/target.json', { body: { keys: [PUBLIC_JWK] } });
    const url = docs.serve('/keys/moved.json', {
      status: 302,
      body: '',
      headers: { location: `${docs.origin}/keys/target.json` },
    });
    const reg = await postRegister(server, keyClient(url));
    const { client_id } = (await reg.json()) as { client_id: string };
    const res = await tokenWithAssertion(server, client_id);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
    expect(docs.hits.get('/keys/moved.json')).toBe(1);
    expect(docs.hits.get('/keys/target.json') ?? 0).toBe(0);
  });
});

describe('the guard itself', () => {
  it('MCP_OAUTH_OPEN_REGISTRATION_FETCHED_URIS is off unless set to on, and refuses other values', () => {
    expect(loadConfig({}).openRegistrationFetchedUris).toBe(false);
    expect(loadConfig({ MCP_OAUTH_OPEN_REGISTRATION_FETCHED_URIS: 'on' }).openRegistrationFetchedUris).toBe(true);
    expect(() => loadConfig({ MCP_OAUTH_OPEN_REGISTRATION_FETCHED_URIS: 'yes' })).toThrow(ConfigError);
  });

  it.each([
    ['http://example.com/a', 'only https URLs are fetched'],
    ['https://127.0.0.1/a', 'IP address URLs are not fetched'],
    ['https://[::1]/a', 'IP address URLs are not fetched'],
    ['https://[::ffff:7f00:1]/a', 'IP address URLs are not fetched'],
    ['https://2130706433/a', 'IP address URLs are not fetched'],
    ['https://0x7f.1/a', 'IP address URLs are not fetched'],
    ['https://user:pw@example.com/a', 'URLs with credentials are not fetched'],
    ['file:///etc/passwd', 'only https URLs are fetched'],
    ['not a url', 'not a URL'],
    ['https://example.com/a', undefined],
  ])('%s → %s', (url, refusal) => {
    expect(refusalOf(url)).toBe(refusal);
  });

  it('refuses before connecting, whatever the caller asked', async () => {
    const guard = createOutboundFetch({ maxBytes: 1024, devLoopbackHosts: [], devCaFile: undefined });
    try {
      await expect(guard.fetch(`http://127.0.0.1:${listener.port}/`, {})).rejects.toThrow(/only https/);
      await expect(guard.fetch(`https://127.0.0.1:${listener.port}/`, {})).rejects.toThrow(/IP address/);
      // A name resolving to loopback: refused by the resolver step, before any connection.
      await expect(guard.fetch(`https://localhost:${listener.port}/`, {})).rejects.toThrow();
      expect(listener.connections()).toBe(0);
    } finally {
      await guard.close();
    }
  });

  it.each([
    ['::7f00:1', true],
    ['::ffff:7f00:1', true],
    ['::ffff:a9fe:a9fe', true],
    ['64:ff9b::a00:1', true],
    ['2002:7f00:1::', true],
    ['2001:0:4136:e378::1', true],
    ['2620:4f:8000::1', true],
    ['192.175.48.1', true],
    ['fec0::1', true],
    ['ff02::1', true],
    ['::', true],
    ['0:0:0:0:0:ffff:7f00:1', true],
    ['::ffff:0a00:0001', true],
    ['fe80::1%eth0', true],
    ['1::ffff:1.2.3.4', true],
    ['4000::1', true],
    ['::ffff:5db8:d822', false],
    ['::ffff:93.184.216.34', false],
    ['not-an-address', true],
    ['8.8.8.8', false],
    ['2a00:1450:4001::1', false],
  ])('%s special-use: %s', (address, special) => {
    expect(isSpecialUseAddress(address)).toBe(special);
  });
});
