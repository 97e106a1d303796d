// Groups from the identity provider's group claim, in a real browser against a real OpenID provider
// (../sso/idp.ts): the sign-in puts the user in the groups of the same names here, and the re-check
// at an agent's refresh replaces them, so a user the company moves into a restricted group gets a
// narrower token at the next refresh.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { startTestIdp, type TestIdp } from '../sso/idp.js';
import { auditRows, RESOURCE, RESOURCE_NAME } from '../support/account.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { useChromium } from '../support/browser.js';
import { PUBLIC_CLIENT, pkcePair, type RegisteredClient, register, tokenRequest } from '../support/oauth.js';

describe('groups from the identity provider', () => {
  const browser = useChromium();
  let idp: TestIdp;
  let server: TestServer;
  let configDir: string;
  let context: BrowserContext | undefined;
  let page: Page;
  let client: RegisteredClient;
  let agent: Server;
  let AGENT_CALLBACK: string;
  let adminToken: string;

  async function api(route: string, body?: Record<string, unknown>) {
    const res = await fetch(`${server.url}${route}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  beforeAll(async () => {
    idp = await startTestIdp();
    configDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-sso-groups-'));
    server = await startTestServer({
      MCP_OAUTH_IDPS_FILE: idp.writeConfig(configDir, { allowed_email_domains: ['acme.test'] }),
      // Every refresh asks the provider again.
      MCP_OAUTH_IDP_RECHECK_INTERVAL: '0',
    });
    await server.addResource(RESOURCE, RESOURCE_NAME);
    idp.start(`${server.url}/sso/callback`);
    agent = createServer((_req, res) => res.end('agent'));
    await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
    AGENT_CALLBACK = `http://127.0.0.1:${(agent.address() as AddressInfo).port}/callback`;
    client = await register(server.url, { ...PUBLIC_CLIENT, redirect_uris: [AGENT_CALLBACK] });
    adminToken = (await server.app.stores.adminTokens.create('sso group tests', null, epochSeconds())).token;
    idp.accounts.set('carl', { email: 'carl@acme.test', email_verified: true, groups: ['engineering'] });
    expect((await api('/admin/api/groups', { name: 'engineering' })).status).toBe(201);
    expect((await api('/admin/api/groups', { name: '/corp/contractors' })).status).toBe(201);
    expect((await api('/admin/api/group-policies', { group: '/corp/contractors', read_only: true })).status).toBe(200);
  });
  afterAll(async () => {
    await server?.close();
    await idp?.close();
    agent?.closeAllConnections();
    await new Promise((resolve) => agent?.close(resolve));
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    context = await browser().newContext({ viewport: { width: 390, height: 844 } });
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  it('takes groups from the claim at sign-in, and narrows at the refresh after the provider moves the user', async () => {
    const { verifier, challenge } = pkcePair();
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: AGENT_CALLBACK,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'agent-state',
      scope: 'mcp:read mcp:write',
      resource: RESOURCE,
    });
    await page.goto(`${server.url}/authorize?${params}`);
    await page.getByRole('button', { name: 'Sign in with Acme SSO' }).click();
    await expect.poll(() => new URL(page.url()).origin).toBe(idp.issuer);
    await page.locator('input[name="login"]').fill('carl');
    await page.locator('input[name="password"]').fill('anything');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Allow' }).count()).toBe(1);
    await page.getByRole('button', { name: 'Allow' }).click();
    await expect.poll(() => page.url()).toContain(AGENT_CALLBACK);
    const code = new URL(page.url()).searchParams.get('code') ?? '';
    const tokens = await tokenRequest(server.url, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: AGENT_CALLBACK,
      code_verifier: verifier,
      client_id: client.client_id,
    });
    const body = (await tokens.json()) as { scope: string; refresh_token: string };
    expect(body.scope.split(' ').sort()).toEqual(['mcp:read', 'mcp:write']);

    const groups = (await api('/admin/api/groups')).body.groups as { id: number; name: string; members: number }[];
    const engineering = groups.find((g) => g.name === 'engineering');
    expect(engineering?.members).toBe(1);
    expect((await api(`/admin/api/groups/${engineering?.id}`)).body.members).toEqual([
      { username: 'carl@acme.test', source: 'sso' },
    ]);

    // The company moves carl into the contractors; the next refresh asks the provider again.
    idp.accounts.set('carl', { email: 'carl@acme.test', email_verified: true, groups: ['/corp/contractors'] });
    const refreshed = await tokenRequest(server.url, {
      grant_type: 'refresh_token',
      refresh_token: body.refresh_token,
      client_id: client.client_id,
    });
    expect(refreshed.status).toBe(200);
    const narrowed = (await refreshed.json()) as { scope: string; refresh_token: string };
    expect(narrowed.scope).toBe('mcp:read');
    const synced = JSON.parse(String((await auditRows(server, 'user.groups_synced')).at(-1)?.details));
    expect(synced).toMatchObject({ by: 'system', provider: 'acme', added: 1, removed: 1, grants_narrowed: 1 });
    const after = (await api('/admin/api/groups')).body.groups as { name: string; members: number }[];
    expect(after.find((g) => g.name === 'engineering')?.members).toBe(0);
    expect(after.find((g) => g.name === '/corp/contractors')?.members).toBe(1);

    // An answer without the group claim changes nothing: carl stays in the restricted group.
    idp.accounts.set('carl', { email: 'carl@acme.test', email_verified: true });
    const again = await tokenRequest(server.url, {
      grant_type: 'refresh_token',
      refresh_token: narrowed.refresh_token,
      client_id: client.client_id,
    });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { scope: string }).scope).toBe('mcp:read');
    const still = (await api('/admin/api/groups')).body.groups as { name: string; members: number }[];
    expect(still.find((g) => g.name === '/corp/contractors')?.members).toBe(1);
  });
});
