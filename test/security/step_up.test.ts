// Step-up: an agent holding a narrower grant asks for more. Consent must be shown again for what
// is new (and only that), whether it was never asked for or declined before.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, CookieBrowser, PUBLIC_CLIENT, redeem, register } from '../support/oauth.js';
import { offeredScopes, RESOURCE, USER } from '../support/security.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  await server.addUser(USER.username, USER.password);
  await server.addResource(RESOURCE, 'Orders DB');
});
afterAll(() => server.close());

const READ_TEXT = 'Read data and list tools';

async function tokenScope(got: Awaited<ReturnType<typeof authorize>>, client: Awaited<ReturnType<typeof register>>) {
  expect(got.location.searchParams.get('error')).toBeNull();
  expect(`${got.location.origin}${got.location.pathname}`).toBe(PUBLIC_CLIENT.redirect_uris[0]);
  const token = await redeem(server.url, client, got);
  expect(token.status).toBe(200);
  const claims = decodeJwt(token.body.access_token as string);
  expect(claims.scope).toBe(token.body.scope);
  return claims.scope;
}

describe('step-up to mcp:write in the same browser session', () => {
  it('after a read-only grant, asking for mcp:read mcp:write shows consent for mcp:write only, then issues both', async () => {
    const client = await register(server.url, PUBLIC_CLIENT);
    const browser = new CookieBrowser();
    const first = await authorize(server.url, { client, ...USER, resource: RESOURCE, scope: 'mcp:read', browser });
    expect(offeredScopes(first.consentHtml ?? '')).toEqual(['mcp:read']);
    expect(await tokenScope(first, client)).toBe('mcp:read');

    const second = await authorize(server.url, {
      client,
      ...USER,
      resource: RESOURCE,
      scope: 'mcp:read mcp:write',
      browser,
    });
    const html = second.consentHtml ?? '';
    expect(html).not.toBe('');
    expect(html).not.toContain('name="password"');
    expect(offeredScopes(html)).toEqual(['mcp:write']);
    expect(html).toContain(
      `<li class="scope granted"><span class="scope-text">${READ_TEXT}</span> <span class="note">(already allowed)</span></li>`,
    );
    expect(html).toContain('You have allowed this agent before; it is asking for more.');
    expect(await tokenScope(second, client)).toBe('mcp:read mcp:write');
  });

  it('after the user unticked mcp:write, asking for it again shows consent again instead of a silent read-only token', async () => {
    const client = await register(server.url, PUBLIC_CLIENT);
    const browser = new CookieBrowser();
    const first = await authorize(server.url, {
      client,
      ...USER,
      resource: RESOURCE,
      scope: 'mcp:read mcp:write',
      keep: ['mcp:read'],
      browser,
    });
    // The answer stands: the flow ends at the agent with a read-only code, not on another consent page.
    expect(await tokenScope(first, client)).toBe('mcp:read');
    expect(offeredScopes(first.consentHtml ?? '')).toEqual(['mcp:read', 'mcp:write']);

    const second = await authorize(server.url, {
      client,
      ...USER,
      resource: RESOURCE,
      scope: 'mcp:read mcp:write',
      browser,
    });
    expect(offeredScopes(second.consentHtml ?? '')).toEqual(['mcp:write']);
    expect(await tokenScope(second, client)).toBe('mcp:read mcp:write');
  });

  it('denying the step-up leaves the earlier read-only grant usable', async () => {
    const client = await register(server.url, PUBLIC_CLIENT);
    const browser = new CookieBrowser();
    const first = await authorize(server.url, { client, ...USER, resource: RESOURCE, scope: 'mcp:read', browser });
    const token = await redeem(server.url, client, first);
    expect(token.status).toBe(200);

    const denied = await authorize(server.url, {
      client,
      ...USER,
      resource: RESOURCE,
      scope: 'mcp:read mcp:write',
      browser,
      decision: 'deny',
    });
    expect(denied.location.searchParams.get('error')).toBe('access_denied');
    expect(denied.code).toBeNull();

    const refreshed = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: token.body.refresh_token as string,
        client_id: client.client_id,
      }),
    });
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(((await refreshed.json()) as { access_token: string }).access_token).scope).toBe('mcp:read');
  });
});
