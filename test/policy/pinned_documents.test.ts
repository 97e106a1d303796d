// Pinned agent documents end to end: a grant to a metadata-document agent records the document
// consented to; a harmless change (a logo, another loopback path) keeps the grant; a new name or
// redirect host refuses the refresh, asks the user again (the consent page), and raises one alert;
// a client id the operator trusts by preset is not asked again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DocumentServer,
  documentFor,
  MCP,
  PASSWORD,
  startCimdServer,
  startDocumentServer,
} from '../clients/support.js';
import type { TestServer } from '../support/app.js';
import { authorize, type RegisteredClient, redeem, tokenRequest } from '../support/oauth.js';

const NO_CACHE = { 'cache-control': 'max-age=0' };
// A web agent: native (loopback) agents see the consent page on every authorization anyway.
const REDIRECT = 'https://agent.example/callback';
const doc = (url: string, extra: Record<string, unknown> = {}) =>
  documentFor(url, { redirect_uris: [REDIRECT], ...extra });

describe('pinned agent documents', () => {
  let docs: DocumentServer;
  let server: TestServer;
  let trustedPrefix: string;

  beforeAll(async () => {
    docs = await startDocumentServer();
    trustedPrefix = `${docs.origin}/vendor/`;
    server = await startCimdServer(docs, {
      MCP_OAUTH_CIMD_CACHE_MIN: '0',
      MCP_OAUTH_CIMD_TRUSTED_CLIENT_IDS: trustedPrefix,
    });
    await server.addResource(MCP, 'Orders DB');
    await server.addUser('alice', PASSWORD);
  });
  afterAll(async () => {
    await server?.close();
    await docs?.close();
  });

  const asClient = (url: string): RegisteredClient => ({ client_id: url, redirect_uris: [REDIRECT] });

  async function connect(url: string) {
    const client = asClient(url);
    const got = await authorize(server.url, {
      client,
      username: 'alice',
      password: PASSWORD,
      resource: MCP,
      scope: 'mcp:read',
    });
    const { status, body } = await redeem(server.url, client, got);
    expect(status).toBe(200);
    return {
      client,
      got,
      refresh: String(body.refresh_token),
      grantId: JSON.parse(Buffer.from(String(body.access_token).split('.')[1] ?? '', 'base64url').toString())
        .grant_id as string,
    };
  }

  const refresh = async (client: RegisteredClient, token: string) => {
    const res = await tokenRequest(server.url, {
      grant_type: 'refresh_token',
      refresh_token: token,
      client_id: client.client_id,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  const alerts = async (clientId: string) =>
    (await server.app.stores.alerts.list({ open: true, limit: 100 })).filter(
      (a) => a.clientId === clientId && a.kind === 'agent.document_changed',
    );

  it('records the document with the grant; a harmless change keeps the grant working', async () => {
    const url = docs.serve('/a.json', { body: doc(`${docs.origin}/a.json`), headers: NO_CACHE });
    const agent = await connect(url);
    const pinned = await server.app.stores.grantDocuments.find(agent.grantId);
    expect(pinned).toMatchObject({ clientId: url, name: 'Document Agent', redirectHosts: ['agent.example'] });
    docs.serve('/a.json', {
      body: doc(url, {
        logo_uri: `${docs.origin}/logo.png`,
        redirect_uris: [REDIRECT, 'https://agent.example/other'],
      }),
      headers: NO_CACHE,
    });
    const refreshed = await refresh(agent.client, agent.refresh);
    expect(refreshed.status).toBe(200);
    expect(await alerts(url)).toEqual([]);
  });

  it.each([
    ['a new name', { client_name: 'Totally Different Agent' }],
    ['a new redirect host', { redirect_uris: [REDIRECT, 'https://collector.example/cb'] }],
  ])('%s: the refresh is refused, the user is asked again, one alert is raised', async (_name, change) => {
    const path = `/changed-${Object.keys(change)[0]}.json`;
    const url = docs.serve(path, { body: doc(`${docs.origin}${path}`), headers: NO_CACHE });
    const agent = await connect(url);
    docs.serve(path, { body: doc(url, change), headers: NO_CACHE });

    const refused = await refresh(agent.client, agent.refresh);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    expect(await alerts(url)).toHaveLength(1);

    // The same browser session and an earlier grant: without the change this would skip consent.
    const again = await authorize(server.url, {
      client: agent.client,
      username: 'alice',
      password: PASSWORD,
      resource: MCP,
      scope: 'mcp:read',
      browser: agent.got.browser,
    });
    expect(again.consentHtml).toContain('name="scope"');
    expect(again.code).toBeTruthy();
    const { status, body } = await redeem(server.url, agent.client, again);
    expect(status).toBe(200);
    const grantId = JSON.parse(Buffer.from(String(body.access_token).split('.')[1] ?? '', 'base64url').toString())
      .grant_id as string;
    // The new consent pins the new document; the new grant refreshes.
    expect((await server.app.stores.grantDocuments.find(grantId))?.digest).not.toBe(
      (await server.app.stores.grantDocuments.find(agent.grantId))?.digest,
    );
    expect((await refresh(agent.client, String(body.refresh_token))).status).toBe(200);
    expect(await alerts(url)).toHaveLength(1);
  });

  it('an unchanged document and a trusted vendor document skip the consent page on return', async () => {
    for (const path of ['/same.json', '/vendor/agent.json']) {
      const url = docs.serve(path, { body: doc(`${docs.origin}${path}`), headers: NO_CACHE });
      const agent = await connect(url);
      if (path.startsWith('/vendor/'))
        docs.serve(path, { body: doc(url, { client_name: 'Vendor Agent 2' }), headers: NO_CACHE });
      expect((await refresh(agent.client, agent.refresh)).status, path).toBe(200);
      const again = await authorize(server.url, {
        client: agent.client,
        username: 'alice',
        password: PASSWORD,
        resource: MCP,
        scope: 'mcp:read',
        browser: agent.got.browser,
      });
      expect(again.consentHtml, path).toBeUndefined();
      expect(again.code, path).toBeTruthy();
      expect(await alerts(url)).toEqual([]);
    }
  });
});
