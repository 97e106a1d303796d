// Client ID Metadata Documents end to end: an agent whose client_id is the https URL of its
// metadata, fetched by the authorization server from a local HTTPS server it trusts for the test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAgents } from '../../src/admin/agents.js';
import { domainMatches } from '../../src/provider/client_metadata_document.js';
import { guardedLookup, isSpecialUseAddress } from '../../src/provider/outbound_fetch.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { cliFor } from '../support/cli.js';
import { authorize, type RegisteredClient, redeem } from '../support/oauth.js';
import { type DocumentServer, documentFor, MCP, PASSWORD, startCimdServer, startCimdSetup } from './support.js';

let docs: DocumentServer;
let server: TestServer;
let close: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ docs, server, close } = await startCimdSetup());
});
afterAll(async () => {
  await close?.();
});

function asClient(url: string, redirect: string): RegisteredClient {
  return { client_id: url, redirect_uris: [redirect] };
}

describe('metadata document clients', () => {
  it('advertises client_id_metadata_document_supported', async () => {
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >;
    expect(meta.client_id_metadata_document_supported).toBe(true);
  });

  it('a port-less loopback document works with a random port, shows the verified domain, gets tokens', async () => {
    const url = docs.serve('/a.json', { body: documentFor(`${docs.origin}/a.json`) });
    const got = await authorize(server.url, {
      client: asClient(url, 'http://127.0.0.1:51234/callback'),
      username: 'alice',
      password: PASSWORD,
      resource: MCP,
    });
    expect(got.code).toBeTruthy();
    expect(got.consentHtml).toContain('verified-domain');
    expect(got.consentHtml).toContain('localhost');
    const tokens = await redeem(server.url, asClient(url, 'http://127.0.0.1:51234/callback'), got);
    expect(tokens.status).toBe(200);
    expect(tokens.body.access_token).toBeTruthy();
  });
});

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

/** GET /authorize as a browser would, without following redirects. */
async function authorizeRaw(target: TestServer, clientId: string, redirectUri: string) {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    state: 'xyz',
    resource: MCP,
  });
  const res = await fetch(`${target.url}/authorize?${params}`, { redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location'), body: await res.text() };
}

describe('refused metadata documents: an error page, never a redirect, nothing recorded', () => {
  const CB = 'http://127.0.0.1:5000/callback';
  const big = 'x'.repeat(6000);
  it.each<[string, () => string, string?]>([
    ['a document at an http URL', () => `http://localhost:${new URL(docs.origin).port}/plain.json`],
    [
      'a document whose client_id differs from its URL',
      () => docs.serve('/r/mismatch.json', { body: documentFor(`${docs.origin}/r/other.json`) }),
    ],
    [
      'a document over the size cap',
      () =>
        docs.serve('/r/big.json', {
          body: documentFor(`${docs.origin}/r/big.json`, { client_uri: undefined, x: big }),
        }),
    ],
    [
      'a redirect URI not in the document',
      () => docs.serve('/r/ok.json', { body: documentFor(`${docs.origin}/r/ok.json`) }),
      'https://evil.example/callback',
    ],
    [
      'a document served through a redirect',
      () => {
        docs.serve('/r/target.json', { body: documentFor(`${docs.origin}/r/moved.json`) });
        return docs.serve('/r/moved.json', {
          status: 302,
          body: '',
          headers: { location: `${docs.origin}/r/target.json` },
        });
      },
    ],
    [
      'a document without client_name',
      () =>
        docs.serve('/r/noname.json', { body: documentFor(`${docs.origin}/r/noname.json`, { client_name: undefined }) }),
    ],
    [
      'a document asking for shared-secret authentication',
      () =>
        docs.serve('/r/secret.json', {
          body: documentFor(`${docs.origin}/r/secret.json`, { token_endpoint_auth_method: 'client_secret_post' }),
        }),
    ],
    [
      'a document with a javascript: redirect URI',
      () =>
        docs.serve('/r/js.json', {
          body: documentFor(`${docs.origin}/r/js.json`, { redirect_uris: ['javascript:alert(1)'] }),
        }),
      'javascript:alert(1)',
    ],
    ['a document that is not JSON', () => docs.serve('/r/html.json', { body: '<html>hello</html>' })],
    ['a document answered with 500', () => docs.serve('/r/500.json', { status: 500, body: '{}' })],
    ['a document at an IP literal (loopback)', () => `https://127.0.0.1:${new URL(docs.origin).port}/a.json`],
    ['a document on a private address', () => 'https://10.1.2.3/agent.json'],
    ['a document with a fragment', () => `${docs.origin}/a.json#x`],
    ['a client_id of 3000 characters', () => `${docs.origin}/${'a'.repeat(3000)}.json`],
    ['a client_id with a space in the host', () => 'https://exa mple.com/agent.json'],
    ['a client_id with dot segments', () => `${docs.origin}/x/../a.json`],
    ['a client_id with userinfo', () => `https://user@localhost:${new URL(docs.origin).port}/a.json`],
    ['a client_id on port 0', () => 'https://localhost:0/a.json'],
    ['a client_id with an IPv6 loopback literal', () => 'https://[::1]/a.json'],
    ['a client_id with a numeric IPv4 host', () => 'https://2130706433/a.json'],
  ])('%s', async (_name, make, redirect = CB) => {
    const url = make();
    const res = await authorizeRaw(server, url, redirect);
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
    // A valid document asked with the wrong redirect URI is a real agent; the others leave no trace.
    if (redirect === CB) expect(await server.app.stores.clientState.find(url)).toBeUndefined();
  });
});

describe('the fetch guard', () => {
  it('the resolver refuses special-use answers, and allows loopback only for named development hosts', async () => {
    const resolve = (hosts: string[]) =>
      new Promise<{ err: NodeJS.ErrnoException | null; addresses: unknown }>((done) =>
        guardedLookup(new Set(hosts))('localhost', { all: true }, (err, addresses) => done({ err, addresses })),
      );
    const strict = await resolve([]);
    expect(strict.err?.message).toMatch(/non-public address/);
    const dev = await resolve(['localhost']);
    expect(dev.err).toBeNull();
    expect(Array.isArray(dev.addresses) && dev.addresses.length > 0).toBe(true);
  });

  it('a document server that never answers is given up on (timeout), with an error page', async () => {
    const url = docs.serve('/guard/hang.json', { body: '', hang: true });
    const res = await authorizeRaw(server, url, 'http://127.0.0.1:5000/callback');
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
  });

  it('a name resolving to loopback is refused before any connection unless named for development', async () => {
    const strict = await startTestServer({ MCP_OAUTH_CIMD_DEV_CA_FILE: docs.caFile });
    try {
      await strict.addResource(MCP, 'Orders DB');
      const url = docs.serve('/guard/a.json', { body: documentFor(`${docs.origin}/guard/a.json`) });
      const res = await authorizeRaw(strict, url, 'http://127.0.0.1:5000/callback');
      expect(res.status).toBe(400);
      expect(docs.hits.get('/guard/a.json') ?? 0).toBe(0);
    } finally {
      await strict.close();
    }
  });

  it('a certificate the server does not trust is refused', async () => {
    const untrusting = await startTestServer({ MCP_OAUTH_CIMD_DEV_LOOPBACK_HOSTS: 'localhost' });
    try {
      await untrusting.addResource(MCP, 'Orders DB');
      const url = docs.serve('/guard/b.json', { body: documentFor(`${docs.origin}/guard/b.json`) });
      expect((await authorizeRaw(untrusting, url, 'http://127.0.0.1:5000/callback')).status).toBe(400);
    } finally {
      await untrusting.close();
    }
  });

  it.each<[string, Record<string, string>]>([
    ['a denied domain', { MCP_OAUTH_CIMD_DENY_DOMAINS: 'example.org,localhost' }],
    ['a domain not on the allow list', { MCP_OAUTH_CIMD_ALLOW_DOMAINS: '*.example.com' }],
    ['metadata documents switched off', { MCP_OAUTH_CIMD: 'off' }],
  ])('%s is refused without a fetch', async (_name, env) => {
    const other = await startCimdServer(docs, env);
    try {
      await other.addResource(MCP, 'Orders DB');
      const path = `/guard/${Object.keys(env)[0]}.json`;
      const url = docs.serve(path, { body: documentFor(`${docs.origin}${path}`) });
      expect((await authorizeRaw(other, url, 'http://127.0.0.1:5000/callback')).status).toBe(400);
      expect(docs.hits.get(path) ?? 0).toBe(0);
      if (env.MCP_OAUTH_CIMD === 'off') {
        const meta = (await (await fetch(`${other.url}/.well-known/oauth-authorization-server`)).json()) as Record<
          string,
          unknown
        >;
        expect(meta).not.toHaveProperty('client_id_metadata_document_supported');
      }
    } finally {
      await other.close();
    }
  });

  it('an allowed domain pattern lets the document through', async () => {
    const other = await startCimdServer(docs, { MCP_OAUTH_CIMD_ALLOW_DOMAINS: 'localhost' });
    try {
      await other.addResource(MCP, 'Orders DB');
      const url = docs.serve('/guard/allowed.json', { body: documentFor(`${docs.origin}/guard/allowed.json`) });
      const res = await authorizeRaw(other, url, 'http://127.0.0.1:5000/callback');
      expect(res.status).toBe(303);
      expect(res.location).toMatch(/^\/interaction\//);
    } finally {
      await other.close();
    }
  });

  it('the document is cached (within the configured bounds), not fetched on every request', async () => {
    const url = docs.serve('/cache/a.json', {
      body: documentFor(`${docs.origin}/cache/a.json`),
      headers: { 'cache-control': 'max-age=0' },
    });
    for (let i = 0; i < 3; i++) {
      expect((await authorizeRaw(server, url, 'http://127.0.0.1:5000/callback')).status).toBe(303);
    }
    expect(docs.hits.get('/cache/a.json')).toBe(1);
  });
});

describe('metadata-document agents for admins', () => {
  it('appear in the agent list with name, domain and first and last use', async () => {
    const url = `${docs.origin}/a.json`;
    const agent = (await listAgents(server.app.stores)).find((a) => a.clientId === url);
    expect(agent).toMatchObject({
      name: 'Document Agent',
      registered: true,
      registeredVia: 'metadata_document',
      verifiedDomain: 'localhost',
      redirectHosts: ['127.0.0.1'],
    });
    expect(agent?.firstUsedAt).toBeTypeOf('number');
    expect(agent?.lastUsedAt).toBeTypeOf('number');
    // Its first use is in the audit trail, once.
    const audited = (await server.sql.all(
      "SELECT details FROM audit_events WHERE event = 'client.registered' AND client_id = ?",
      [url],
    )) as { details: string }[];
    expect(audited).toHaveLength(1);
    expect(JSON.parse(audited[0]?.details ?? '{}')).toEqual({ name: 'Document Agent', via: 'metadata_document' });
  });

  it('are listed by `mcp-oauth clients list`', async () => {
    const out = await cliFor(server.dataDir).run(['clients', 'list', '--json']);
    const rows = JSON.parse(out.out) as { clientId: string; name: string; applicationType: string }[];
    expect(rows.find((r) => r.clientId === `${docs.origin}/a.json`)).toMatchObject({
      name: 'Document Agent',
      applicationType: 'document',
    });
    const shown = await cliFor(server.dataDir).run(['clients', 'show', `${docs.origin}/a.json`]);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain('client_name: Document Agent');
  });

  it('disabled by URL: refused at once (even from the cache), allowed again when enabled', async () => {
    const url = docs.serve('/disable/a.json', { body: documentFor(`${docs.origin}/disable/a.json`) });
    expect((await authorizeRaw(server, url, 'http://127.0.0.1:5000/callback')).status).toBe(303);
    const { revocations } = server.app.stores;
    await revocations.disableClient(url, 'test', Math.floor(Date.now() / 1000));
    expect((await authorizeRaw(server, url, 'http://127.0.0.1:5000/callback')).status).toBe(400);
    await revocations.enableClient(url);
    expect((await authorizeRaw(server, url, 'http://127.0.0.1:5000/callback')).status).toBe(303);
  });

  it('disabled by domain: every document from it and its subdomains is refused', async () => {
    const url = docs.serve('/disable/b.json', { body: documentFor(`${docs.origin}/disable/b.json`) });
    expect((await authorizeRaw(server, url, 'http://127.0.0.1:5000/callback')).status).toBe(303);
    const { clientState } = server.app.stores;
    await clientState.blockDomain('localhost', 'test', 1);
    try {
      expect(await clientState.isDomainBlocked('agents.localhost')).toBe(true);
      expect((await authorizeRaw(server, url, 'http://127.0.0.1:5000/callback')).status).toBe(400);
    } finally {
      await clientState.unblockDomain('localhost');
    }
    expect((await authorizeRaw(server, url, 'http://127.0.0.1:5000/callback')).status).toBe(303);
  });
});

describe('address and pattern rules', () => {
  it.each([
    ['127.0.0.1', true],
    ['10.0.0.1', true],
    ['172.16.5.4', true],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['::1', true],
    ['fe80::1', true],
    ['fd00::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:10.0.0.1', true],
    ['224.0.0.1', true],
    ['93.184.216.34', false],
    ['2606:4700::1111', false],
    ['::ffff:93.184.216.34', false],
  ])('%s special-use: %s', (address, special) => {
    expect(isSpecialUseAddress(address)).toBe(special);
  });

  it.each([
    ['example.com', 'example.com', true],
    ['a.example.com', 'example.com', false],
    ['a.example.com', '*.example.com', true],
    ['example.com', '*.example.com', false],
    ['evilexample.com', '*.example.com', false],
    ['EXAMPLE.com.', 'example.com', true],
  ])('%s matches %s: %s', (host, pattern, expected) => {
    expect(domainMatches(host, pattern)).toBe(expected);
  });
});
