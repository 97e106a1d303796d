// The shapes real agents send (docs/pitfalls.md#real-agents), one table row each: every row
// registers (or publishes a metadata document), authorizes as a user, and redeems the code.
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
import { type DocumentServer, documentFor, MCP, PASSWORD, startCimdSetup } from './support.js';

let docs: DocumentServer;
let server: TestServer;
let close: (() => Promise<void>) | undefined;

// A second MCP server with its own scopes: the AS metadata lists both servers' scopes.
const FILES = 'http://127.0.0.1:9/files';
const FILES_SCOPES = [
  { scope: 'files:read', description: 'Read files', isDefault: true, isWrite: false },
  { scope: 'files:write', description: 'Change files', isDefault: false, isWrite: true },
];

beforeAll(async () => {
  ({ docs, server, close } = await startCimdSetup());
  server.addResource(FILES, 'Files', FILES_SCOPES);
});
afterAll(async () => {
  await close?.();
});

interface Row {
  /** Returns the client as the agent knows it, and the redirect URI it will use this time. */
  client: () => Promise<{ client: RegisteredClient; redirectUri: string }>;
  /** The scope parameter; 'scopes_supported' asks for the whole list the AS metadata advertises (Claude). */
  scope?: string;
  /** The MCP server named by `resource` (default MCP). */
  resource?: string;
  /** The scopes the consent page offers and the access token then carries, when the row checks them. */
  granted?: string[];
}

async function scopesSupported(): Promise<string> {
  const meta = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
  return ((await meta.json()) as { scopes_supported: string[] }).scopes_supported.join(' ');
}

let n = 0;
/** A metadata document published on the local document server. */
function published(extra: Record<string, unknown>, redirectUri: string) {
  return async () => {
    n += 1;
    const path = `/agents/${n}.json`;
    const url = docs.serve(path, { body: documentFor(`${docs.origin}${path}`, extra) });
    return { client: { client_id: url, redirect_uris: [redirectUri] }, redirectUri };
  };
}
function registered(body: Record<string, unknown>, redirectUri?: string) {
  return async () => {
    const client = await register(server.url, body);
    return { client, redirectUri: redirectUri ?? (client.redirect_uris[0] as string) };
  };
}

const ROWS: [string, Row][] = [
  [
    'metadata document, port-less loopback redirect, agent uses a random port (Claude Code)',
    { client: published({ redirect_uris: ['http://127.0.0.1/callback'] }, 'http://127.0.0.1:49152/callback') },
  ],
  [
    'metadata document, fixed-port loopback redirect, agent uses another port (Copilot CLI)',
    {
      client: published({ redirect_uris: ['http://127.0.0.1:8080/callback'] }, 'http://127.0.0.1:61000/callback'),
    },
  ],
  [
    'metadata document, localhost redirect without a port',
    { client: published({ redirect_uris: ['http://localhost/cb'] }, 'http://localhost:50001/cb') },
  ],
  [
    "metadata document, web agent's https callback on its own domain",
    {
      client: async () => {
        const cb = `${docs.origin}/api/mcp/auth_callback`;
        return published({ redirect_uris: [cb] }, cb)();
      },
    },
  ],
  [
    'metadata document with application_type native',
    {
      client: published(
        { application_type: 'native', redirect_uris: ['http://127.0.0.1/cb'] },
        'http://127.0.0.1:40000/cb',
      ),
    },
  ],
  [
    'registration, loopback redirect, agent comes back on another port',
    { client: registered(PUBLIC_CLIENT, 'http://127.0.0.1:55555/callback') },
  ],
  [
    "registration, web agent's https callback (claude.ai)",
    { client: registered({ ...PUBLIC_CLIENT, redirect_uris: ['https://claude.ai/api/mcp/auth_callback'] }) },
  ],
  ['registration with a resource member in the body', { client: registered({ ...PUBLIC_CLIENT, resource: MCP }) }],
  ['registration with scope "" (MCP Inspector)', { client: registered({ ...PUBLIC_CLIENT, scope: '' }) }],
  [
    'registration without application_type, loopback redirect',
    {
      client: registered({
        client_name: 'Minimal',
        redirect_uris: ['http://localhost:3000/cb'],
        token_endpoint_auth_method: 'none',
      }),
    },
  ],
  [
    'registration with application_type native',
    { client: registered({ ...PUBLIC_CLIENT, application_type: 'native' }, 'http://127.0.0.1:1/callback') },
  ],
  [
    'registration with a private-use scheme (Cursor)',
    { client: registered({ ...PUBLIC_CLIENT, redirect_uris: ['cursor://anysphere.cursor-retrieval/oauth/cb'] }) },
  ],
  ['registration, no scope asked for', { client: registered(PUBLIC_CLIENT), scope: undefined }],
  ['registration, one scope asked for', { client: registered(PUBLIC_CLIENT), scope: 'mcp:read' }],
  // Claude asks for every scope in scopes_supported; with two MCP servers registered, half of them
  // belong to the other one. Each pair: the control (its own server's scopes), then the whole list.
  [
    "Claude, two MCP servers, …/mcp with that server's scopes (control)",
    {
      client: registered({ ...PUBLIC_CLIENT, redirect_uris: ['https://claude.ai/api/mcp/auth_callback'] }),
      scope: 'mcp:read mcp:write offline_access',
      granted: ['mcp:read', 'mcp:write'],
    },
  ],
  [
    'Claude, two MCP servers, …/mcp with the whole scopes_supported list',
    {
      client: registered({ ...PUBLIC_CLIENT, redirect_uris: ['https://claude.ai/api/mcp/auth_callback'] }),
      scope: 'scopes_supported',
      granted: ['mcp:read', 'mcp:write'],
    },
  ],
  [
    "Claude, two MCP servers, …/files with that server's scopes (control)",
    {
      client: registered({ ...PUBLIC_CLIENT, redirect_uris: ['https://claude.ai/api/mcp/auth_callback'] }),
      resource: FILES,
      scope: 'files:read files:write offline_access',
      granted: ['files:read', 'files:write'],
    },
  ],
  [
    'Claude, two MCP servers, …/files with the whole scopes_supported list',
    {
      client: registered({ ...PUBLIC_CLIENT, redirect_uris: ['https://claude.ai/api/mcp/auth_callback'] }),
      resource: FILES,
      scope: 'scopes_supported',
      granted: ['files:read', 'files:write'],
    },
  ],
  [
    "…/files asking only for the other server's scopes gets its default scope",
    {
      client: registered(PUBLIC_CLIENT),
      resource: FILES,
      scope: 'mcp:read mcp:write',
      granted: ['files:read'],
    },
  ],
];

describe('known agents: each shape gets a code and tokens', () => {
  it.each(ROWS)('%s', async (_name, row) => {
    const { client, redirectUri } = await row.client();
    const resource = row.resource ?? MCP;
    const got = await authorize(server.url, {
      client,
      username: 'alice',
      password: PASSWORD,
      resource,
      scope: row.scope === 'scopes_supported' ? await scopesSupported() : row.scope,
      redirectUri,
    });
    expect(got.code, `redirected to ${got.location.href}`).toBeTruthy();
    expect(got.location.href.split('?')[0]).toBe(redirectUri);
    // RFC 9207: the issuer in the response, the same string as the metadata issuer.
    expect(got.location.searchParams.get('iss')).toBe(server.url);
    const tokens = await redeem(server.url, client, got, { resource, redirect_uri: redirectUri });
    expect(tokens.status).toBe(200);
    expect(tokens.body.token_type).toBe('Bearer');
    expect(typeof tokens.body.access_token).toBe('string');
    expect(typeof tokens.body.refresh_token).toBe('string');
    if (row.granted) {
      // Only the named server's scopes are offered and granted, never another server's.
      const offered = [...(got.consentHtml ?? '').matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1]);
      expect(offered).toEqual(row.granted);
      const claims = decodeJwt(tokens.body.access_token as string);
      expect(claims.aud).toBe(resource);
      expect(String(claims.scope).split(' ').sort()).toEqual(row.granted);
    }
  });
});

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
    const grants = server.app.stores.grantRecords.list({ clientId: client.client_id, state: 'all' });
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
