// The shapes real agents send (docs/pitfalls.md#real-agents), one table row each: every row
// registers (or publishes a metadata document), authorizes as a user, redeems the code, and then
// does what the agent came for: calls a tool through the resource proxy with the access token.
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoAuthorization } from '../proxy/helpers.js';
import { authorize, PUBLIC_CLIENT, type RegisteredClient, redeem, register, tokenRequest } from '../support/oauth.js';
import { type AgentChain, callReadTool, documentFor, PASSWORD, startAgentChain } from './support.js';

/** Two MCP servers behind the proxy (`/mcp` and `/files`), and a deployment with only `/mcp`. */
let two: AgentChain;
let one: AgentChain;

beforeAll(async () => {
  [two, one] = await Promise.all([startAgentChain(), startAgentChain({ oneServer: true })]);
});
afterAll(async () => {
  expectNoAuthorization(two?.upstream);
  expectNoAuthorization(one?.upstream);
  await Promise.all([two?.close(), one?.close()]);
});

type Agent = (chain: AgentChain) => Promise<{ client: RegisteredClient; redirectUri: string }>;

interface Row {
  /** Returns the client as the agent knows it, and the redirect URI it will use this time. */
  client: Agent;
  /** The scope parameter; 'scopes_supported' asks for the whole list the AS metadata advertises (Claude). */
  scope?: string;
  /** The MCP server named by `resource` (default mcp). */
  resource?: 'mcp' | 'files';
  /** The scopes the consent page offers and the access token then carries, when the row checks them. */
  granted?: string[];
  /** Runs against the deployment with a single MCP server (default: two). */
  oneServer?: true;
  /** The agent is refused: an error page at /authorize, no redirect, and invalid_client at /token. */
  refused?: true;
}

async function scopesSupported(chain: AgentChain): Promise<string> {
  const meta = await fetch(`${chain.server.url}/.well-known/oauth-authorization-server`);
  return ((await meta.json()) as { scopes_supported: string[] }).scopes_supported.join(' ');
}

let n = 0;
/** A metadata document, `doc(its URL)`, published on the local document server. */
function publish(doc: (url: string) => Record<string, unknown>, redirectUri: string): Agent {
  return async ({ docs }) => {
    n += 1;
    const url = docs.serve(`/agents/${n}.json`, { body: doc(`${docs.origin}/agents/${n}.json`) });
    return { client: { client_id: url, redirect_uris: [redirectUri] }, redirectUri };
  };
}
const published = (extra: Record<string, unknown>, redirectUri: string) =>
  publish((url) => documentFor(url, extra), redirectUri);
function registered(
  body: Record<string, unknown> | ((chain: AgentChain) => Record<string, unknown>),
  redirectUri?: string,
): Agent {
  return async (chain) => {
    const client = await register(chain.server.url, typeof body === 'function' ? body(chain) : body);
    return { client, redirectUri: redirectUri ?? (client.redirect_uris[0] as string) };
  };
}

// ChatGPT's metadata document as it publishes it: no token_endpoint_auth_method. Its redirect URI
// is not served here: the code is read from the Location the consent answers with.
const CHATGPT_REDIRECT = 'https://chatgpt.com/connector_platform_oauth_redirect';
const chatgpt = (method: Record<string, string> = {}) =>
  publish(
    (url) => ({
      client_id: url,
      client_name: 'ChatGPT',
      redirect_uris: [CHATGPT_REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...method,
    }),
    CHATGPT_REDIRECT,
  );
const CLAUDE = { ...PUBLIC_CLIENT, redirect_uris: ['https://claude.ai/api/mcp/auth_callback'] };

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
      client: async (chain) => {
        const cb = `${chain.docs.origin}/api/mcp/auth_callback`;
        return published({ redirect_uris: [cb] }, cb)(chain);
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
  // ChatGPT's document leaves the method out: a public client. Controls beside it: the same
  // document naming `none` (works), and naming a shared secret (refused, as for any document).
  ["ChatGPT's metadata document without token_endpoint_auth_method", { client: chatgpt(), granted: ['mcp:read'] }],
  ["ChatGPT's metadata document naming none (control)", { client: chatgpt({ token_endpoint_auth_method: 'none' }) }],
  [
    "ChatGPT's metadata document naming client_secret_basic is refused (control)",
    {
      client: chatgpt({ token_endpoint_auth_method: 'client_secret_basic' }),
      refused: true,
    },
  ],
  [
    'registration, loopback redirect, agent comes back on another port',
    { client: registered(PUBLIC_CLIENT, 'http://127.0.0.1:55555/callback') },
  ],
  ["registration, web agent's https callback (claude.ai)", { client: registered(CLAUDE) }],
  [
    'registration with a resource member in the body',
    { client: registered((chain) => ({ ...PUBLIC_CLIENT, resource: chain.mcp })) },
  ],
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
  // belong to the other one. Controls: one server registered, and each server's own scopes.
  [
    'Claude, one MCP server, the whole scopes_supported list (control)',
    { client: registered(CLAUDE), scope: 'scopes_supported', granted: ['mcp:read', 'mcp:write'], oneServer: true },
  ],
  [
    "Claude, two MCP servers, …/mcp with that server's scopes (control)",
    { client: registered(CLAUDE), scope: 'mcp:read mcp:write offline_access', granted: ['mcp:read', 'mcp:write'] },
  ],
  [
    'Claude, two MCP servers, …/mcp with the whole scopes_supported list',
    { client: registered(CLAUDE), scope: 'scopes_supported', granted: ['mcp:read', 'mcp:write'] },
  ],
  [
    "Claude, two MCP servers, …/files with that server's scopes (control)",
    {
      client: registered(CLAUDE),
      resource: 'files',
      scope: 'files:read files:write offline_access',
      granted: ['files:read', 'files:write'],
    },
  ],
  [
    'Claude, two MCP servers, …/files with the whole scopes_supported list',
    {
      client: registered(CLAUDE),
      resource: 'files',
      scope: 'scopes_supported',
      granted: ['files:read', 'files:write'],
    },
  ],
  [
    "…/files asking only for the other server's scopes gets its default scope",
    { client: registered(PUBLIC_CLIENT), resource: 'files', scope: 'mcp:read mcp:write', granted: ['files:read'] },
  ],
];

/** The /authorize request of a refused agent, and its /token request: neither may redirect or succeed. */
async function expectRefused(chain: AgentChain, client: RegisteredClient, redirectUri: string, resource: string) {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: redirectUri,
    code_challenge: createHash('sha256').update(randomBytes(8)).digest('base64url'),
    code_challenge_method: 'S256',
    state: 'xyz',
    resource,
  });
  const res = await fetch(`${chain.server.url}/authorize?${params}`, {
    redirect: 'manual',
    headers: { accept: 'text/html' },
  });
  expect(res.status).toBe(400);
  expect(res.headers.get('location')).toBeNull();
  await res.text();
  const token = await tokenRequest(chain.server.url, {
    grant_type: 'authorization_code',
    code: 'not-a-code',
    redirect_uri: redirectUri,
    code_verifier: 'x'.repeat(43),
    client_id: client.client_id,
  });
  // RFC 6749 §5.2: 400, or 401 had the client tried to authenticate with a header.
  expect([400, 401]).toContain(token.status);
  expect(((await token.json()) as { error: string }).error).toBe('invalid_client');
}

describe('known agents: each shape gets a code and tokens, and calls a tool through the proxy', () => {
  it.each(ROWS)('%s', async (_name, row) => {
    const chain = row.oneServer ? one : two;
    const { client, redirectUri } = await row.client(chain);
    const resource = row.resource === 'files' ? chain.files : chain.mcp;
    if (!resource) throw new Error('no such MCP server in this deployment');
    if (row.refused) return expectRefused(chain, client, redirectUri, resource);
    const got = await authorize(chain.server.url, {
      client,
      username: 'alice',
      password: PASSWORD,
      resource,
      scope: row.scope === 'scopes_supported' ? await scopesSupported(chain) : row.scope,
      redirectUri,
    });
    expect(got.code, `redirected to ${got.location.href}`).toBeTruthy();
    expect(got.location.href.split('?')[0]).toBe(redirectUri);
    // RFC 9207: the issuer in the response, the same string as the metadata issuer.
    expect(got.location.searchParams.get('iss')).toBe(chain.server.url);
    const tokens = await redeem(chain.server.url, client, got, { resource, redirect_uri: redirectUri });
    expect(tokens.status).toBe(200);
    expect(tokens.body.token_type).toBe('Bearer');
    expect(typeof tokens.body.access_token).toBe('string');
    expect(typeof tokens.body.refresh_token).toBe('string');
    const access = tokens.body.access_token as string;
    if (row.granted) {
      // Only the named server's scopes are offered and granted, never another server's.
      const offered = [...(got.consentHtml ?? '').matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1]);
      expect(offered).toEqual(row.granted);
      const claims = decodeJwt(access);
      expect(claims.aud).toBe(resource);
      expect(String(claims.scope).split(' ').sort()).toEqual(row.granted);
    }
    // What the agent came for: the read-only tool, through the proxy, on the server it named.
    expect(await callReadTool(resource, access)).toBe('first note');
    // The proxy vouched for this agent to the MCP server.
    expect(chain.upstream.seen.some((h) => h['x-mcp-client-id'] === client.client_id)).toBe(true);
  });
});
