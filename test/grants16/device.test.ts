// RFC 8628 end to end: an agent without a browser (oauth4webapi) asks for a device code with a
// resource, the user enters the code on /device, signs in and allows on the same consent page as
// the code flow, the agent's poll gets an audience-bound JWT that the proxy accepts; and the
// refusals: authorization_pending, slow_down, access_denied, expired_token, guessing throttled.
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Chain, expectNoAuthorization, PASSWORD, startChain } from '../proxy/helpers.js';
import { startTestServer } from '../support/app.js';
import { register } from '../support/oauth.js';
import { approveDevice, discover, insecure, mcpCall } from './support.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const DEVICE_AGENT = {
  client_name: 'Terminal Agent',
  token_endpoint_auth_method: 'none',
  grant_types: [DEVICE_GRANT, 'refresh_token'],
  response_types: [],
  redirect_uris: [],
};

describe('device authorization grant (RFC 8628)', () => {
  let chain: Chain;
  let as: oauth.AuthorizationServer;
  let offset = 0;
  const now = () => Date.now() + offset;
  let client: oauth.Client;

  beforeAll(async () => {
    const server = await startTestServer({ MCP_OAUTH_RATE_LIMIT_DEVICE: '0' }, { now });
    chain = await startChain({ as: server });
    await server.addUser('alice', PASSWORD);
    await server.addUser('bob', PASSWORD);
    as = await discover(server.url);
    const registered = await register(server.url, DEVICE_AGENT);
    client = { client_id: registered.client_id, token_endpoint_auth_method: 'none' };
  });

  afterAll(async () => {
    expectNoAuthorization(chain?.upstream);
    await chain?.as.close();
    await chain?.close();
  });

  const start = async (params: Record<string, string> = { resource: chain.resource, scope: 'mcp:read mcp:write' }) =>
    oauth.processDeviceAuthorizationResponse(
      as,
      client,
      await oauth.deviceAuthorizationRequest(as, client, oauth.None(), params, insecure),
    );
  const poll = (deviceCode: string) => oauth.deviceCodeGrantRequest(as, client, oauth.None(), deviceCode, insecure);
  const nextPoll = () => {
    offset += 10_000;
  };

  it('advertises the device endpoint and grant', () => {
    expect(as.device_authorization_endpoint).toBe(`${chain.as.url}/device/auth`);
    expect(as.grant_types_supported).toContain(DEVICE_GRANT);
  });

  it('issues an audience-bound token after the user allows, which the proxy accepts', async () => {
    const device = await start();
    expect(device.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(device.verification_uri).toBe(`${chain.as.url}/device`);
    expect(device.verification_uri_complete).toContain(encodeURIComponent(device.user_code));

    const pending = await poll(device.device_code);
    await expect(oauth.processDeviceCodeResponse(as, client, pending)).rejects.toMatchObject({
      error: 'authorization_pending',
    });
    // Polling again at once: slow_down (RFC 8628 §3.5).
    const fast = await poll(device.device_code);
    await expect(oauth.processDeviceCodeResponse(as, client, fast)).rejects.toMatchObject({ error: 'slow_down' });

    const done = await approveDevice(chain.as.url, device.verification_uri_complete ?? '', {
      username: 'alice',
      password: PASSWORD,
    });
    // The link pre-filled the code; the confirmation shows it for comparison.
    expect(done.entryHtml).toContain(`value="${device.user_code}"`);
    expect(done.confirmHtml).toContain(device.user_code);
    expect(done.confirmHtml).toContain('Terminal Agent');
    expect(done.confirmHtml).toContain('<code>127.0.0.1</code>');
    // The same consent page: agent, MCP server, scopes with write marked; no redirect host.
    expect(done.consentHtml).toContain('Terminal Agent');
    expect(done.consentHtml).toContain('Notes MCP');
    expect(done.consentHtml).toMatch(/class="scope write"[\s\S]*mcp:write/);
    expect(done.consentHtml).toContain('go back to your device');
    expect(done.finalHtml).toContain('Device connected');

    // Another server named at /token: refused before the code is used (it still works below).
    nextPoll();
    const other = await oauth.deviceCodeGrantRequest(as, client, oauth.None(), device.device_code, {
      ...insecure,
      additionalParameters: { resource: 'https://other.example.com/mcp' },
    });
    await expect(oauth.processDeviceCodeResponse(as, client, other)).rejects.toMatchObject({
      error: 'invalid_target',
    });
    nextPoll();
    const tokens = await oauth.processDeviceCodeResponse(as, client, await poll(device.device_code));
    const claims = decodeJwt(tokens.access_token);
    expect(claims.aud).toBe(chain.resource);
    expect(claims.scope).toBe('mcp:read mcp:write');
    expect(typeof claims.grant_id).toBe('string');
    expect(tokens.refresh_token).toBeTruthy();

    // Through the proxy to the MCP server, as the user.
    const res = await mcpCall(chain.resource, tokens.access_token);
    expect(res.status).toBe(200);
    await res.body?.cancel();
    const seen = chain.upstream.seen.at(-1) ?? {};
    expect(seen['x-mcp-subject']).toBe(claims.sub);
    expect(seen['x-mcp-subject-type']).toBe('user');

    // Listed like any other grant, marked as obtained on a device, and revocable.
    const record = await chain.as.app.stores.grantRecords.find(String(claims.grant_id));
    expect(record).toMatchObject({ clientId: client.client_id, resource: chain.resource, obtainedVia: 'device' });
    const admin = (await chain.as.app.stores.adminTokens.create('tests', null, Math.floor(Date.now() / 1000))).token;
    const listed = (await (
      await fetch(`${chain.as.url}/admin/api/grants?client=${encodeURIComponent(client.client_id)}`, {
        headers: { authorization: `Bearer ${admin}` },
      })
    ).json()) as { grants: { id: string; obtainedVia: string }[] };
    expect(listed.grants).toEqual([expect.objectContaining({ id: claims.grant_id, obtainedVia: 'device' })]);
    const events = (await chain.as.sql.all('SELECT event, details FROM audit_events WHERE grant_id = ? ORDER BY id', [
      String(claims.grant_id),
    ])) as { event: string; details: string }[];
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['consent.given', 'token.issued']));
    expect(events.find((e) => e.event === 'consent.given')?.details).toContain('"via":"device"');
    expect(events.find((e) => e.event === 'token.issued')?.details).toContain(DEVICE_GRANT);
    const { createLifecycle, CLI_ACTOR } = await import('../../src/grants/index.js');
    const { createAudit } = await import('../../src/audit/index.js');
    const { createLogger } = await import('../../src/log/logger.js');
    const lifecycle = createLifecycle(chain.as.app.stores, createAudit(chain.as.sql, createLogger('silent')));
    expect(await lifecycle.revokeGrant(CLI_ACTOR, String(claims.grant_id))).toBe('revoked');
    await expect
      .poll(async () => {
        const r = await mcpCall(chain.resource, tokens.access_token);
        await r.body?.cancel();
        return r.status;
      })
      .toBe(401);
    // The device code was used once: a second redemption is refused.
    nextPoll();
    await expect(oauth.processDeviceCodeResponse(as, client, await poll(device.device_code))).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('gives access_denied to the poller when the user denies', async () => {
    // The resource in another spelling (trailing slash) is folded as on /authorize.
    const device = await start({ resource: `${chain.resource}/` });
    const done = await approveDevice(chain.as.url, device.verification_uri_complete ?? '', {
      username: 'bob',
      password: PASSWORD,
      decision: 'deny',
    });
    expect(done.consentHtml).toContain('Terminal Agent');
    expect(done.finalHtml).toContain('Access was not granted');
    nextPoll();
    await expect(oauth.processDeviceCodeResponse(as, client, await poll(device.device_code))).rejects.toMatchObject({
      error: 'access_denied',
    });
  });

  it('gives expired_token once the code has expired', async () => {
    const device = await start();
    // oidc-provider reads the wall clock for a code's expiry: move it (and the store's) past it.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + (device.expires_in + 1) * 1000);
      await expect(oauth.processDeviceCodeResponse(as, client, await poll(device.device_code))).rejects.toMatchObject({
        error: 'expired_token',
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a resource that is not registered, and another MCP server’s token audience', async () => {
    const res = await oauth.deviceAuthorizationRequest(
      as,
      client,
      oauth.None(),
      { resource: 'https://unknown.example.com/mcp' },
      insecure,
    );
    await expect(oauth.processDeviceAuthorizationResponse(as, client, res)).rejects.toMatchObject({
      error: 'invalid_target',
    });
  });

  it('refuses a client that did not register the device grant', async () => {
    const other = await register(chain.as.url, {
      client_name: 'Browser Agent',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1:33418/callback'],
    });
    const c = { client_id: other.client_id, token_endpoint_auth_method: 'none' };
    const res = await oauth.deviceAuthorizationRequest(as, c, oauth.None(), { resource: chain.resource }, insecure);
    // oidc-provider answers invalid_request (RFC 6749 would also allow unauthorized_client).
    await expect(oauth.processDeviceAuthorizationResponse(as, c, res)).rejects.toMatchObject({
      error: 'invalid_request',
      error_description: `${DEVICE_GRANT} is not allowed for this client`,
    });
  });

  it('shows a wrong code as an error on the page and changes nothing', async () => {
    const device = await start();
    const { CookieBrowser } = await import('../support/oauth.js');
    const browser = new CookieBrowser();
    const page = await (await browser.get(`${chain.as.url}/device`)).text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const wrong = await browser.post(`${chain.as.url}/device`, { xsrf, user_code: 'BBBB-BBBB' });
    expect(wrong.status).toBe(400);
    const again = await wrong.text();
    expect(again).toContain('That code is not valid');
    // A typo is corrected on the same page: the right code then leads to the confirmation.
    const retry = await browser.post(`${chain.as.url}/device`, {
      xsrf: /name="xsrf" value="([^"]+)"/.exec(again)?.[1] ?? '',
      user_code: device.user_code.toLowerCase().replace('-', ' '),
    });
    expect(retry.status).toBe(200);
    expect(await retry.text()).toContain(device.user_code);
    nextPoll();
    await expect(oauth.processDeviceCodeResponse(as, client, await poll(device.device_code))).rejects.toMatchObject({
      error: 'authorization_pending',
    });
  });
});

describe('the /device page', () => {
  it('throttles code entry per address against guessing', async () => {
    const server = await startTestServer({ MCP_OAUTH_RATE_LIMIT_DEVICE: '3' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${server.url}/device`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ user_code: 'BBBB-BBBB' }),
        });
        await res.body?.cancel();
        statuses.push(res.status);
      }
      expect(statuses.slice(3)).toEqual([429, 429]);
    } finally {
      await server.close();
    }
  });

  it('is off with MCP_OAUTH_DEVICE_FLOW=off: not advertised, not served', async () => {
    const server = await startTestServer({ MCP_OAUTH_DEVICE_FLOW: 'off' });
    try {
      const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<
        string,
        unknown
      >;
      expect(meta.device_authorization_endpoint).toBeUndefined();
      expect(meta.grant_types_supported).not.toContain(DEVICE_GRANT);
      const res = await fetch(`${server.url}/device/auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: 'x' }),
      });
      expect(res.status).toBe(404);
      await res.body?.cancel();
    } finally {
      await server.close();
    }
  });

  it('is shown in the reader’s language', async () => {
    const server = await startTestServer();
    try {
      const res = await fetch(`${server.url}/device`, { headers: { 'accept-language': 'ja' } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('デバイスを接続');
    } finally {
      await server.close();
    }
  });
});
