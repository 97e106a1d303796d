// An ID-JAG token end to end: the agent trades the company identity provider's assertion for an
// access token, and the resource proxy lets it reach a real MCP server within the granted scope.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JWT_BEARER } from '../../src/provider/id_jag.js';
import { NO_PASSWORD } from '../../src/web/sso.js';
import { type Chain, freePort, INIT, MCP_HEADERS, startChain } from '../proxy/helpers.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { register, tokenRequest } from '../support/oauth.js';
import { startTestIdp, type TestIdp } from './idp.js';

describe('an ID-JAG token through the resource proxy', () => {
  let idp: TestIdp;
  let as: TestServer;
  let chain: Chain;
  let dir: string;
  let access: string;

  beforeAll(async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    idp = await startTestIdp({ signingKey: { ...(await exportJWK(privateKey)), kid: 'k1', alg: 'ES256', use: 'sig' } });
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-idjag-proxy-'));
    as = await startTestServer({
      MCP_OAUTH_IDPS_FILE: idp.writeConfig(dir, {
        allowed_groups: ['staff'],
        id_jag: { resources: [resource], scopes: ['mcp:read'] },
      }),
    });
    idp.start(`${as.url}/sso/callback`);
    chain = await startChain({ as, resource, config: { port } });
    const user = await as.app.stores.users.create('ann@acme.test', NO_PASSWORD, false);
    await as.app.stores.identities.link({
      issuer: idp.issuer,
      subject: 'ann',
      provider: 'acme',
      userId: user.id,
      email: null,
      refreshToken: null,
    });
    const client = await register(as.url, {
      client_name: 'Scheduled report',
      grant_types: ['authorization_code', JWT_BEARER],
      response_types: ['code'],
      redirect_uris: ['https://agent.example/callback'],
      token_endpoint_auth_method: 'client_secret_post',
    });
    const assertion = await new SignJWT({ client_id: client.client_id, resource, scope: 'mcp:read', jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'oauth-id-jag+jwt', kid: 'k1' })
      .setIssuer(idp.issuer)
      .setSubject('ann')
      .setAudience(as.url)
      .setIssuedAt()
      .setExpirationTime('2m')
      .sign(privateKey);
    const res = await tokenRequest(as.url, {
      grant_type: JWT_BEARER,
      assertion,
      client_id: client.client_id,
      client_secret: client.client_secret ?? '',
    });
    expect(res.status).toBe(200);
    access = String(((await res.json()) as { access_token: string }).access_token);
  });
  afterAll(async () => {
    await chain?.close();
    await as?.close();
    await idp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reaches the MCP server with the read scope, and only that', async () => {
    const post = (body: unknown, extra: Record<string, string> = {}) =>
      fetch(chain.resource, {
        method: 'POST',
        headers: { ...MCP_HEADERS, authorization: `Bearer ${access}`, ...extra },
        body: JSON.stringify(body),
      });
    const init = await post(INIT);
    expect(init.status).toBe(200);
    const sid = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    expect(
      (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': sid })).status,
    ).toBe(202);
    // The proxy learns which tools only read from the server's own tools/list.
    const list = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': sid });
    expect(list.status).toBe(200);
    await list.text();
    const read = await post(
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'read_notes', arguments: {} } },
      { 'mcp-session-id': sid },
    );
    expect(read.status).toBe(200);
    expect(await read.text()).toContain('first note');
    const write = await post(
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'add_note', arguments: { text: 'x' } } },
      { 'mcp-session-id': sid },
    );
    expect(write.status).toBe(403);
    expect(chain.upstream.seen.every((h) => h.authorization === undefined)).toBe(true);
  });
});
