// Sign-in with the company's identity provider in a real browser (Chromium), against a real
// OpenID provider started by the test (./idp.ts): the agent's authorization and the account pages
// both offer "Sign in with Acme SSO"; the response's state, the ID token's nonce and the response's
// issuer are checked; the provider's policy (verified email in an allowed domain, an allowed group)
// is enforced; and a user disabled upstream stops getting tokens at the next refresh.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { NO_PASSWORD } from '../../src/web/sso.js';
import { auditRows, RESOURCE, RESOURCE_NAME } from '../support/account.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { useChromium } from '../support/browser.js';
import { PUBLIC_CLIENT, pkcePair, type RegisteredClient, register, tokenRequest } from '../support/oauth.js';
import { startTestIdp, type TestIdp } from './idp.js';

describe('single sign-on with an OpenID provider, in a real browser', () => {
  const browser = useChromium();
  let idp: TestIdp;
  let server: TestServer;
  let configDir: string;
  let context: BrowserContext | undefined;
  let page: Page;
  let client: RegisteredClient;
  // The agent's own redirect URI: a real listener, since the browser reaches it through redirects.
  let agent: Server;
  let AGENT_CALLBACK: string;

  beforeAll(async () => {
    idp = await startTestIdp();
    configDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-sso-'));
    server = await startTestServer({
      MCP_OAUTH_IDPS_FILE: idp.writeConfig(configDir, {
        allowed_email_domains: ['acme.test'],
        allowed_groups: ['mcp-users', 'mcp-admins'],
        admin_groups: ['mcp-admins'],
      }),
      // Every refresh asks the provider again.
      MCP_OAUTH_IDP_RECHECK_INTERVAL: '0',
    });
    await server.addResource(RESOURCE, RESOURCE_NAME);
    idp.start(`${server.url}/sso/callback`);
    agent = createServer((_req, res) => res.end('agent'));
    await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
    AGENT_CALLBACK = `http://127.0.0.1:${(agent.address() as AddressInfo).port}/callback`;
    client = await register(server.url, { ...PUBLIC_CLIENT, redirect_uris: [AGENT_CALLBACK] });
    idp.accounts.set('ann', { email: 'Ann@acme.test', email_verified: true, groups: ['mcp-users'] });
    idp.accounts.set('boss', { email: 'boss@acme.test', email_verified: true, groups: ['mcp-admins'] });
    idp.accounts.set('eve', { email: 'eve@acme.test', email_verified: false, groups: ['mcp-users'] });
    idp.accounts.set('outsider', { email: 'out@acme.test', email_verified: true, groups: ['contractors'] });
    idp.accounts.set('namesake', { email: 'local@acme.test', email_verified: true, groups: ['mcp-users'] });
    await server.addUser('local@acme.test', 'a local password of someone');
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
    idp.tamper.request = undefined;
    idp.tamper.callback = undefined;
    await context?.close();
    context = undefined;
  });

  /** Opens the agent's authorization request; returns the PKCE verifier. */
  async function startAuthorization(): Promise<string> {
    const { verifier, challenge } = pkcePair();
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: AGENT_CALLBACK,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'agent-state',
      scope: 'mcp:read',
      resource: RESOURCE,
    });
    await page.goto(`${server.url}/authorize?${params}`);
    await expect.poll(() => new URL(page.url()).pathname).toMatch(/^\/interaction\//);
    return verifier;
  }

  /** Clicks "Sign in with Acme SSO" and signs in at the provider as `login`. */
  async function signInUpstream(login: string): Promise<void> {
    await page.getByRole('button', { name: 'Sign in with Acme SSO' }).click();
    await expect.poll(() => new URL(page.url()).origin).toBe(idp.issuer);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('anything');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
  }

  async function alertText(): Promise<string> {
    await expect.poll(() => page.getByRole('alert').count()).toBeGreaterThan(0);
    return (await page.getByRole('alert').first().textContent()) ?? '';
  }

  const lastFailure = async () => {
    const rows = await auditRows(server, 'login.failure');
    return JSON.parse(String(rows.at(-1)?.details ?? '{}')) as Record<string, unknown>;
  };

  it('signs a new user in through the provider, creates them, and the agent gets tokens; disabled upstream, the next refresh fails', async () => {
    const verifier = await startAuthorization();
    await signInUpstream('ann');
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
    expect(tokens.status).toBe(200);
    const body = (await tokens.json()) as { access_token: string; refresh_token: string };

    // Created just in time, named by the verified email, linked by the provider's subject.
    const user = await server.app.stores.users.findByUsername('ann@acme.test');
    expect(user).toMatchObject({ isAdmin: false, disabled: false });
    const sub = JSON.parse(Buffer.from(body.access_token.split('.')[1] ?? '', 'base64url').toString()).sub;
    expect(sub).toBe(user?.id);
    expect(await server.app.stores.identities.forUser(user?.id ?? '')).toMatchObject([
      { issuer: idp.issuer, subject: 'ann', provider: 'acme' },
    ]);
    const success = (await auditRows(server, 'login.success')).at(-1);
    expect(JSON.parse(String(success?.details))).toMatchObject({ via: 'acme' });

    // Still in good standing upstream: the refresh asks the provider and succeeds.
    const first = await tokenRequest(server.url, {
      grant_type: 'refresh_token',
      refresh_token: body.refresh_token,
      client_id: client.client_id,
    });
    expect(first.status).toBe(200);
    const rotated = ((await first.json()) as { refresh_token: string }).refresh_token;

    // Disabled at the company: the provider refuses our refresh token, and so do we.
    idp.accounts.set('ann', { ...idp.accounts.get('ann'), disabled: true });
    onTestFinished(() => {
      idp.accounts.set('ann', { ...idp.accounts.get('ann'), disabled: false });
    });
    const second = await tokenRequest(server.url, {
      grant_type: 'refresh_token',
      refresh_token: rotated,
      client_id: client.client_id,
    });
    expect(second.status).toBe(400);
    expect(((await second.json()) as { error: string }).error).toBe('invalid_grant');
    const failed = (await auditRows(server, 'user.upstream_check_failed')).at(-1);
    expect(failed?.user_id).toBe(user?.id);
    expect(String(JSON.parse(String(failed?.details)).reason)).toMatch(/^refresh_failed/);

    // The user's browser sessions ended with it: another agent's authorization asks to sign in again.
    await startAuthorization();
    await expect.poll(() => page.getByRole('button', { name: 'Sign in with Acme SSO' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Allow' }).count()).toBe(0);
  });

  it('refuses a response whose state was changed', async () => {
    await startAuthorization();
    idp.tamper.callback = (url) => url.searchParams.set('state', 'forged-state');
    await signInUpstream('ann');
    expect(await alertText()).toBe('The identity provider did not sign you in. Start again.');
    expect(await lastFailure()).toMatchObject({ via: 'acme', reason: 'response_state' });
  });

  it('refuses an ID token whose nonce is not the one this browser sent', async () => {
    await startAuthorization();
    idp.tamper.request = (url) => {
      if (url.pathname === '/auth' && url.searchParams.has('nonce')) url.searchParams.set('nonce', 'another-nonce');
    };
    await signInUpstream('ann');
    expect(await alertText()).toBe('The identity provider did not sign you in. Start again.');
    expect(await lastFailure()).toMatchObject({ via: 'acme', reason: 'response_nonce' });
  });

  it('refuses a response from another issuer (mix-up, RFC 9207)', async () => {
    await startAuthorization();
    idp.tamper.callback = (url) => url.searchParams.set('iss', 'https://evil.example');
    await signInUpstream('ann');
    expect(await alertText()).toBe('The identity provider did not sign you in. Start again.');
    expect(await lastFailure()).toMatchObject({ via: 'acme', reason: 'response_iss' });
  });

  it('refuses an unverified email when the provider allows only some domains', async () => {
    await startAuthorization();
    await signInUpstream('eve');
    expect(await alertText()).toBe(
      'Your identity provider did not confirm your email address, so you cannot sign in here.',
    );
    expect(await lastFailure()).toMatchObject({ reason: 'email_unverified' });
    expect(await server.app.stores.users.findByUsername('eve@acme.test')).toBeUndefined();
  });

  it('refuses a user who is not in an allowed group', async () => {
    await startAuthorization();
    await signInUpstream('outsider');
    expect(await alertText()).toBe('Your account at the identity provider is not in a group allowed to sign in here.');
    expect(await lastFailure()).toMatchObject({ reason: 'group' });
    expect(await server.app.stores.users.findByUsername('out@acme.test')).toBeUndefined();
  });

  it('never takes over a local user of the same name', async () => {
    await page.goto(`${server.url}/account/login`);
    await signInUpstream('namesake');
    expect(await alertText()).toBe(
      'An account with your email address already exists here. Ask an administrator to link it.',
    );
    const local = await server.app.stores.users.findByUsername('local@acme.test');
    expect(await server.app.stores.identities.forUser(local?.id ?? '')).toEqual([]);
    expect(await lastFailure()).toMatchObject({ reason: 'username_taken' });
  });

  it('signs in to the account pages through the provider; the admin group makes an admin, shown with its source', async () => {
    await page.goto(`${server.url}/account/login?next=/admin/users`);
    await signInUpstream('boss');
    await page.waitForURL(`${server.url}/admin/users`);
    const row = page.locator('tr[data-username="boss@acme.test"]');
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.locator('td.source').textContent()).toBe('Acme SSO');
    expect((await server.app.stores.users.findByUsername('boss@acme.test'))?.isAdmin).toBe(true);
  });
});

describe('single sign-on for pre-provisioned users only, linked by verified email', () => {
  const browser = useChromium();
  let idp: TestIdp;
  let server: TestServer;
  let configDir: string;
  let context: BrowserContext | undefined;
  let page: Page;

  beforeAll(async () => {
    idp = await startTestIdp();
    configDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-sso-existing-'));
    server = await startTestServer({
      MCP_OAUTH_IDPS_FILE: idp.writeConfig(configDir, { accounts: 'existing', link_by_email: true }),
      MCP_OAUTH_PASSWORD_LOGIN: 'off',
    });
    idp.start(`${server.url}/sso/callback`);
    await server.app.stores.users.create('carol@acme.test', NO_PASSWORD, false);
    idp.accounts.set('carol', { email: 'carol@acme.test', email_verified: true });
    idp.accounts.set('dave', { email: 'dave@acme.test', email_verified: true });
    idp.accounts.set('carol-unverified', { email: 'carol@acme.test', email_verified: false });
  });
  afterAll(async () => {
    await server?.close();
    await idp?.close();
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

  async function signInUpstream(login: string): Promise<void> {
    await page.goto(`${server.url}/account/login`);
    await page.getByRole('button', { name: 'Sign in with Acme SSO' }).click();
    await expect.poll(() => new URL(page.url()).origin).toBe(idp.issuer);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('anything');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
  }

  it('links a pre-provisioned user by verified email and signs them in', async () => {
    await signInUpstream('carol');
    await page.waitForURL(`${server.url}/account`);
    const carol = await server.app.stores.users.findByUsername('carol@acme.test');
    expect(await server.app.stores.identities.forUser(carol?.id ?? '')).toMatchObject([{ subject: 'carol' }]);
  });

  it('refuses someone with no account here, and an unverified email, creating and linking nothing', async () => {
    const before = (await server.app.stores.users.list()).length;
    await signInUpstream('dave');
    await expect
      .poll(() => page.getByRole('alert').first().textContent())
      .toBe('There is no account here for you. Ask an administrator to add you.');
    await context?.clearCookies();
    await signInUpstream('carol-unverified');
    await expect
      .poll(() => page.getByRole('alert').first().textContent())
      .toBe('There is no account here for you. Ask an administrator to add you.');
    expect((await server.app.stores.users.list()).length).toBe(before);
    expect(await server.app.stores.identities.find(idp.issuer, 'carol-unverified')).toBeUndefined();
  });
});
