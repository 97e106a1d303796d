// What real agents do around the shapes of known_agents.test.ts (docs/pitfalls.md#real-agents):
// scopes no MCP server offers, browser-based agents' CORS, an SDK v2-style client's issuer checks,
// PKCE for metadata-document clients, and how the sign-in page labels an agent.
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/app.js';
import {
  authorize,
  CookieBrowser,
  PUBLIC_CLIENT,
  pkcePair,
  type RegisteredClient,
  redeem,
  register,
} from '../support/oauth.js';
import { type DocumentServer, documentFor, FILES_SCOPES, MCP, PASSWORD, startCimdSetup } from './support.js';

let docs: DocumentServer;
let server: TestServer;
let close: (() => Promise<void>) | undefined;

// A second MCP server with its own scopes: the AS metadata lists both servers' scopes.
const FILES = 'http://127.0.0.1:9/files';

beforeAll(async () => {
  ({ docs, server, close } = await startCimdSetup());
  await server.addResource(FILES, 'Files', FILES_SCOPES);
});
afterAll(async () => {
  await close?.();
});

async function scopesSupported(): Promise<string> {
  const meta = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
  return ((await meta.json()) as { scopes_supported: string[] }).scopes_supported.join(' ');
}

describe('scopes no MCP server offers', () => {
  const ask = async (scope: string) => {
    const client = await register(server.url, PUBLIC_CLIENT);
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: PUBLIC_CLIENT.redirect_uris[0] as string,
      code_challenge: createHash('sha256').update(randomBytes(8)).digest('base64url'),
      code_challenge_method: 'S256',
      resource: MCP,
      scope,
    });
    return fetch(`${server.url}/authorize?${params}`, { redirect: 'manual' });
  };

  it("control: this server's and the other server's scopes → on to sign-in", async () => {
    const res = await ask('mcp:read files:read');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/interaction\//);
  });

  it('one scope no server offers among them → invalid_scope', async () => {
    const res = await ask('mcp:read files:read nothing:here');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('invalid_scope');
  });

  it("a consent form that names the other server's scope puts none of it into this grant", async () => {
    const client = await register(server.url, PUBLIC_CLIENT);
    const got = await authorize(server.url, {
      client,
      username: 'alice',
      password: PASSWORD,
      resource: MCP,
      scope: 'mcp:read files:read',
      keep: ['mcp:read', 'files:read', 'files:write'],
    });
    const tokens = await redeem(server.url, client, got, { resource: MCP });
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.access_token as string).scope).toBe('mcp:read');
    const grants = await server.app.stores.grantRecords.list({ clientId: client.client_id, state: 'all' });
    expect(grants.map((g) => g.scopes)).toEqual([['mcp:read']]);
  });

  it("the AS metadata advertises every registered server's scopes", async () => {
    expect((await scopesSupported()).split(' ')).toEqual(
      expect.arrayContaining(['mcp:read', 'mcp:write', 'files:read', 'files:write', 'offline_access']),
    );
  });
});

describe('browser-based agents', () => {
  const ORIGIN = 'http://localhost:6274';

  it('CORS preflight on registration and token is answered for another origin', async () => {
    for (const path of ['/register', '/token']) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'OPTIONS',
        headers: {
          origin: ORIGIN,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
      expect(res.status, path).toBe(204);
      expect(res.headers.get('access-control-allow-origin'), path).toBeTruthy();
      expect(res.headers.get('access-control-allow-methods') ?? '', path).toMatch(/POST/);
    }
  });

  it('registration and token exchange from the page origin carry CORS headers', async () => {
    const res = await fetch(`${server.url}/register`, {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/json' },
      body: JSON.stringify({ ...PUBLIC_CLIENT, redirect_uris: [`${ORIGIN}/oauth/callback`] }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('access-control-allow-origin')).toBeTruthy();
    const client = (await res.json()) as RegisteredClient;
    const got = await authorize(server.url, { client, username: 'alice', password: PASSWORD, resource: MCP });
    const token = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: got.code ?? '',
        redirect_uri: `${ORIGIN}/oauth/callback`,
        code_verifier: got.verifier,
        client_id: client.client_id,
        resource: MCP,
      }),
    });
    expect(token.status).toBe(200);
    expect(token.headers.get('access-control-allow-origin')).toBe(ORIGIN);
  });
});

describe('an SDK v2-style client', () => {
  it('finds issuer equal to the URL it derived, and iss in the authorization response equal to it', async () => {
    // SDK v2 derives the metadata URL from the issuer and refuses a document naming another issuer.
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >;
    expect(meta.issuer).toBe(server.url);
    expect(meta.authorization_response_iss_parameter_supported).toBe(true);
    expect(meta.code_challenge_methods_supported).toContain('S256');
    expect(meta.client_id_metadata_document_supported).toBe(true);

    const path = '/agents/sdk-v2.json';
    const url = docs.serve(path, {
      body: documentFor(`${docs.origin}${path}`, { client_name: 'SDK v2 agent', application_type: 'native' }),
    });
    const client = { client_id: url, redirect_uris: ['http://127.0.0.1:43210/callback'] };
    const got = await authorize(server.url, { client, username: 'alice', password: PASSWORD, resource: MCP });
    expect(got.location.searchParams.get('iss')).toBe(meta.issuer);
    expect(got.location.searchParams.get('state')).toBe(got.state);
    const tokens = await redeem(server.url, client, got, { resource: MCP });
    expect(tokens.status).toBe(200);
    // The access token names the same issuer (RFC 9068 §2.2).
    const payload = JSON.parse(
      Buffer.from(String(tokens.body.access_token).split('.')[1] ?? '', 'base64url').toString(),
    ) as Record<string, unknown>;
    expect(payload.iss).toBe(meta.issuer);
    expect(payload.client_id).toBe(url);
    expect(payload.aud).toBe(MCP);
  });
});

// Keeps the PKCE helper honest: a wrong verifier is refused for a metadata-document client too.
describe('a metadata-document client is still held to PKCE', () => {
  it('a wrong code_verifier → invalid_grant', async () => {
    const path = '/agents/pkce.json';
    const url = docs.serve(path, { body: documentFor(`${docs.origin}${path}`) });
    const client = { client_id: url, redirect_uris: ['http://127.0.0.1:1234/callback'] };
    const got = await authorize(server.url, { client, username: 'alice', password: PASSWORD, resource: MCP });
    const wrong = createHash('sha256').update(randomBytes(8)).digest('base64url');
    const tokens = await redeem(server.url, client, got, { resource: MCP, code_verifier: wrong });
    expect(tokens.status).toBe(400);
    expect(tokens.body.error).toBe('invalid_grant');
  });
});

// The sign-in page and the consent page must agree on whether the agent is who it says it is.
describe('the sign-in page labels the agent as the consent page does', () => {
  const loginPage = async (clientId: string, redirectUri: string) => {
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      resource: MCP,
    });
    const browser = new CookieBrowser();
    const { res } = await browser.follow(
      await browser.get(`${server.url}/authorize?${params}`),
      `${server.url}/authorize`,
      server.url,
    );
    const html = await res.text();
    expect(html).toContain('name="password"');
    return html;
  };

  it('a metadata-document agent (verified by its domain) is not "self-declared"', async () => {
    const path = '/agents/login-label.json';
    const url = docs.serve(path, { body: documentFor(`${docs.origin}${path}`, { client_name: 'Doc Agent' }) });
    const html = await loginPage(url, 'http://127.0.0.1:4321/callback');
    expect(html).toContain('Doc Agent');
    expect(html).not.toContain('self-declared');
  });

  it("control: a registered agent's name is labelled self-declared", async () => {
    const client = await register(server.url, PUBLIC_CLIENT);
    const html = await loginPage(client.client_id, client.redirect_uris[0] as string);
    expect(html).toContain('self-declared name');
  });
});
