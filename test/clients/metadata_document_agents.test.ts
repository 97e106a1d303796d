// Metadata documents as real agents publish them, and what happens when one is wrong: ChatGPT's
// document (no token_endpoint_auth_method), refusals as invalid_client with a page a person can
// read, nothing recorded for documents that never get anywhere, failures fetched once and
// remembered briefly, and names that hide what they say.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILURE_TTL_MS } from '../../src/provider/client_metadata_document.js';
import { purgeExpired } from '../../src/storage/purge.js';
import type { TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, type RegisteredClient, redeem, register, tokenRequest } from '../support/oauth.js';
import { type DocumentServer, documentFor, MCP, PASSWORD, startCimdServer, startDocumentServer } from './support.js';

const CHATGPT_REDIRECT = 'https://chatgpt.com/connector_platform_oauth_redirect';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

let docs: DocumentServer;
let server: TestServer;
/** Added to the server's clock (ms): moves the failure cache's time without waiting. */
let skew = 0;

beforeAll(async () => {
  docs = await startDocumentServer();
  server = await startCimdServer(docs, {}, { now: () => Date.now() + skew });
  await server.addResource(MCP, 'Orders DB');
  await server.addUser('alice', PASSWORD);
});
afterAll(async () => {
  await server?.close();
  await docs?.close();
});

function asClient(url: string, redirect: string): RegisteredClient {
  return { client_id: url, redirect_uris: [redirect] };
}

/** GET /authorize as a browser would, without following redirects. */
async function authorizeRaw(clientId: string, redirectUri = 'http://127.0.0.1:5000/callback') {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    state: 'xyz',
    resource: MCP,
  });
  const res = await fetch(`${server.url}/authorize?${params}`, {
    redirect: 'manual',
    headers: { accept: 'text/html' },
  });
  return { status: res.status, location: res.headers.get('location'), body: await res.text() };
}

/** A token request naming a metadata-document client (public: no secret). */
async function tokenFor(clientId: string) {
  const res = await tokenRequest(server.url, {
    grant_type: 'authorization_code',
    code: 'not-a-code',
    redirect_uri: 'http://127.0.0.1:5000/callback',
    code_verifier: 'x'.repeat(43),
    client_id: clientId,
  });
  return { status: res.status, body: (await res.json()) as { error?: string; error_description?: string } };
}

async function recorded(clientId: string) {
  const state = await server.app.stores.clientState.find(clientId);
  const audited = (await server.sql.get(
    "SELECT count(*) AS n FROM audit_events WHERE event = 'client.registered' AND client_id = ?",
    [clientId],
  )) as { n: number };
  return { state, audited: audited.n };
}

describe("ChatGPT's metadata document (no token_endpoint_auth_method)", () => {
  it('signs in, consents, gets a code and tokens as a public client', async () => {
    const url = docs.serve('/chatgpt.json', {
      body: {
        client_id: `${docs.origin}/chatgpt.json`,
        client_name: 'ChatGPT',
        redirect_uris: [CHATGPT_REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    });
    const client = asClient(url, CHATGPT_REDIRECT);
    const got = await authorize(server.url, { client, username: 'alice', password: PASSWORD, resource: MCP });
    expect(`${got.location.origin}${got.location.pathname}`).toBe(CHATGPT_REDIRECT);
    expect(got.code).toBeTruthy();
    const tokens = await redeem(server.url, client, got);
    expect(tokens.status).toBe(200);
    expect(tokens.body.access_token).toBeTruthy();
    expect(tokens.body.refresh_token).toBeTruthy();
    const loaded = await server.app.provider().Client.find(url);
    expect(loaded?.metadata().token_endpoint_auth_method).toBe('none');
  });

  it.each(['client_secret_basic', 'client_secret_post', 'client_secret_jwt'])(
    'a document that names %s stays refused',
    async (method) => {
      const path = `/secret-${method}.json`;
      const url = docs.serve(path, {
        body: documentFor(`${docs.origin}${path}`, { token_endpoint_auth_method: method }),
      });
      const res = await authorizeRaw(url);
      expect(res.status).toBe(400);
      expect(res.location).toBeNull();
      expect((await tokenFor(url)).body.error).toBe('invalid_client');
    },
  );

  it('registration still defaults to client_secret_basic (RFC 7591 §2)', async () => {
    const { token_endpoint_auth_method: _omitted, ...body } = PUBLIC_CLIENT;
    const client = await register(server.url, body);
    expect(client.token_endpoint_auth_method).toBe('client_secret_basic');
    expect(client.client_secret).toBeTruthy();
  });
});

describe('a document refused for its content', () => {
  it.each<[string, (path: string) => Record<string, unknown>, RegExp]>([
    ['a client_id that is not its URL', () => documentFor(`${docs.origin}/elsewhere.json`), /client_id does not match/],
    [
      'a name with a right-to-left override',
      (path) => documentFor(`${docs.origin}${path}`, { client_name: 'Claude Desktop \u202e moc.cihportna :deifirev' }),
      /client_name must not contain control characters/,
    ],
  ])(
    '%s: invalid_client at /token, a page saying the document is invalid at /authorize',
    async (_name, doc, reason) => {
      const path = `/content-${Math.random().toString(36).slice(2)}.json`;
      const url = docs.serve(path, { body: doc(path) });
      const token = await tokenFor(url);
      expect(token.status).toBe(400);
      expect(token.body.error).toBe('invalid_client');
      expect(token.body.error_description).toMatch(/^the agent's metadata document is invalid: /);
      expect(token.body.error_description).toMatch(reason);

      const page = await authorizeRaw(url);
      expect(page.status).toBe(400);
      expect(page.location).toBeNull();
      expect(page.body).toMatch(/metadata document is invalid/);
      expect(page.body).toMatch(reason);
      expect(page.body).not.toContain('Something went wrong');
      expect(page.body).not.toContain('invalid_client_metadata');
    },
  );

  it('a document that cannot be fetched says so, and nothing about why (no oracle for what answers where)', async () => {
    const url = docs.serve('/content-500.json', { status: 500, body: '{}' });
    const token = await tokenFor(url);
    expect(token.body).toEqual({
      error: 'invalid_client',
      error_description: "the agent's metadata document could not be fetched or read",
    });
    const page = await authorizeRaw('https://10.1.2.3/agent.json');
    expect(page.status).toBe(400);
    expect(page.body).toMatch(/could not be fetched or read/);
    expect(page.body).not.toMatch(/non-public|ENOTFOUND|ECONNREFUSED|IP address|status 500/);
  });
});

describe('documents that never get anywhere leave nothing behind', () => {
  it('many new documents asked for before anyone signs in: no agent rows, no audit rows', async () => {
    const urls = Array.from({ length: 25 }, (_, i) => {
      const path = `/flood/${i}.json`;
      return docs.serve(path, { body: documentFor(`${docs.origin}${path}`) });
    });
    for (const url of urls) expect((await authorizeRaw(url)).status).toBe(303);
    for (const url of urls) expect(await recorded(url)).toEqual({ state: undefined, audited: 0 });
  });

  it('an agent is recorded (and audited once) when an authorization completes', async () => {
    const url = docs.serve('/flood/used.json', { body: documentFor(`${docs.origin}/flood/used.json`) });
    const client = asClient(url, 'http://127.0.0.1:51234/callback');
    expect((await authorizeRaw(url)).status).toBe(303);
    expect(await recorded(url)).toEqual({ state: undefined, audited: 0 });
    const got = await authorize(server.url, { client, username: 'alice', password: PASSWORD, resource: MCP });
    expect(got.code).toBeTruthy();
    expect((await recorded(url)).state).toMatchObject({ registeredVia: 'metadata_document', name: 'Document Agent' });
    expect((await recorded(url)).audited).toBe(1);
    await authorize(server.url, { client, username: 'alice', password: PASSWORD, resource: MCP, browser: got.browser });
    expect((await recorded(url)).audited).toBe(1);
  });

  it('purge forgets agent rows written on first sight (before this was fixed), keeps agents with grants', async () => {
    const { clientState } = server.app.stores;
    await clientState.seen('https://stale.example.com/agent.json', 'Stale', []);
    const used = `${docs.origin}/flood/used.json`;
    const result = await purgeExpired(server.sql, Math.floor(Date.now() / 1000));
    expect(result.unusedClients).toBeGreaterThanOrEqual(1);
    expect(await clientState.find('https://stale.example.com/agent.json')).toBeUndefined();
    expect(await clientState.find(used)).toBeDefined();
  });
});

describe('failing documents are fetched once per request and remembered briefly', () => {
  it('one fetch for a failing document, however often it is asked for within the window; again after it', async () => {
    const url = docs.serve('/failing/500.json', { status: 500, body: '{}' });
    expect((await authorizeRaw(url)).status).toBe(400);
    expect(docs.hits.get('/failing/500.json')).toBe(1);
    expect((await authorizeRaw(url)).status).toBe(400);
    expect((await tokenFor(url)).body.error).toBe('invalid_client');
    expect(docs.hits.get('/failing/500.json')).toBe(1);

    // Fixed by its owner; seen again once the failure is forgotten.
    docs.serve('/failing/500.json', { body: documentFor(url) });
    skew += FAILURE_TTL_MS + 1000;
    expect((await authorizeRaw(url)).status).toBe(303);
    expect(docs.hits.get('/failing/500.json')).toBe(2);
  });

  it('a document refused for its content is also fetched once', async () => {
    const url = docs.serve('/failing/mismatch.json', { body: documentFor(`${docs.origin}/failing/other.json`) });
    expect((await authorizeRaw(url)).status).toBe(400);
    expect((await authorizeRaw(url)).status).toBe(400);
    expect(docs.hits.get('/failing/mismatch.json')).toBe(1);
  });

  it('an agent refused because it is disabled works again as soon as it is enabled (not remembered)', async () => {
    const url = docs.serve('/failing/disabled.json', { body: documentFor(`${docs.origin}/failing/disabled.json`) });
    const { revocations } = server.app.stores;
    await revocations.disableClient(url, 'test', Math.floor(Date.now() / 1000));
    const refused = await authorizeRaw(url);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/disabled/);
    await revocations.enableClient(url);
    expect((await authorizeRaw(url)).status).toBe(303);
  });
});

describe('control and format characters in displayed client fields', () => {
  it.each<[string, string]>([
    ['client_name', 'Claude Desktop \u202e moc.cihportna :deifirev'],
    ['client_name', 'Agent\u2066isolated\u2069'],
    ['client_name', 'Zero\u200bwidth'],
    ['client_name', 'Line\u2028separator'],
    ['client_uri', 'https://example.com/\u202egpj.exe'],
    ['logo_uri', 'https://example.com/logo\u200f.png'],
    ['policy_uri', 'https://example.com/\u061cpolicy'],
    ['tos_uri', 'https://example.com/tos\ufeff'],
    ['software_id', 'agent\u202d'],
    ['software_version', '1.0\u00ad'],
  ])('registration with %s %j → invalid_client_metadata naming the field', async (field, value) => {
    const res = await fetch(`${server.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...PUBLIC_CLIENT, [field]: value }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: 'invalid_client_metadata',
      error_description: `${field} must not contain control characters`,
    });
  });

  it('names in other scripts and with accents are fine', async () => {
    const client = await register(server.url, { ...PUBLIC_CLIENT, client_name: 'Agent café 日本語 עברית' });
    expect(client.client_name).toBe('Agent café 日本語 עברית');
  });
});
