// Passkeys in a real browser: Chromium's virtual authenticator (Chrome DevTools Protocol, WebAuthn
// domain) with user verification, on a phone-sized screen. A user registers a passkey on the
// account page, signs out, signs in with it (no username typed), and an agent that asks for a
// phishing-resistant sign-in (acr_values=phr) gets a token that says so. The security page fits
// the screen in English, Japanese and Korean, and so does the code step after a password.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app/app.js';
import { loadConfig } from '../../src/config/index.js';
import { hashPassword } from '../../src/lib/passwords.js';
import { ACR } from '../../src/lib/sign_in_strength.js';
import { createLogger } from '../../src/log/logger.js';
import type { Sql } from '../../src/storage/engine.js';
import { DEFAULT_SCOPES } from '../support/app.js';
import { useChromium } from '../support/browser.js';
import { type LoopbackReceiver, startLoopbackReceiver } from '../support/mcp_agent.js';
import { pkcePair, type RegisteredClient, register, tokenRequest } from '../support/oauth.js';
import { openTestStorage } from '../support/storage.js';

const PASSWORD = 'correct horse battery staple';
const RESOURCE = 'https://orders.example.com/mcp';
const PHONE = { width: 375, height: 812 };

/** What overflows the viewport horizontally (runs in the page). */
const OVERFLOW = `(() => {
  const vw = window.innerWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > vw + 0.5 || r.left < -0.5) wide.push(el.tagName.toLowerCase() + '.' + el.className);
  }
  return wide;
})()`;

/**
 * The real server on a temp database, with `localhost` as the issuer's host: WebAuthn needs a
 * domain as the relying party id, and browsers refuse an IP address there.
 */
async function startLocalhostServer(): Promise<{ url: string; app: App; sql: Sql; close(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-passkeys-'));
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://localhost:${port}`;
  const config = loadConfig({
    MCP_OAUTH_PORT: String(port),
    MCP_OAUTH_DATA_DIR: dataDir,
    MCP_OAUTH_ISSUER: url,
    MCP_OAUTH_RATE_LIMIT_AUTHORIZE: '0',
  });
  const storage = await openTestStorage(dataDir);
  const app = await buildApp(config, storage.sql, createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
  server.on('request', app.handler);
  return {
    url,
    app,
    sql: storage.sql,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describe('passkeys in a real browser', () => {
  const chromium = useChromium();
  let server: Awaited<ReturnType<typeof startLocalhostServer>>;
  let receiver: LoopbackReceiver;
  let client: RegisteredClient;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    server = await startLocalhostServer();
    await server.app.stores.users.create('pat', await hashPassword(PASSWORD), false);
    await server.app.stores.resources.create(RESOURCE, 'Orders DB', DEFAULT_SCOPES);
    // quinn has an authenticator app (set up directly: the code page is what is looked at here).
    const quinn = await server.app.stores.users.create('quinn', await hashPassword(PASSWORD), false);
    await server.app.stores.factors.startTotp(quinn.id, 'JBSWY3DPEHPK3PXP', 0);
    await server.app.stores.factors.confirmTotp(quinn.id, 1, 0);
    receiver = await startLoopbackReceiver();
    client = await register(server.url, {
      client_name: 'Passkey Test Agent',
      redirect_uris: [receiver.redirectUrl],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    });
  });
  afterAll(async () => {
    await context?.close();
    await receiver?.close();
    await server?.close();
  });

  it('registers a passkey on the account page, with user verification', async () => {
    context = await chromium().newContext({ viewport: PHONE, locale: 'en-US' });
    page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await page.goto(`${server.url}/account/login`);
    await page.fill('#username', 'pat');
    await page.fill('#password', PASSWORD);
    await page.click('form[action="/account/login"] button[type=submit]');
    await page.waitForURL(`${server.url}/account`);
    await page.goto(`${server.url}/account/security`);
    expect(await page.evaluate(OVERFLOW)).toEqual([]);
    await page.fill('#passkey-name', 'Test phone');
    await page.click('form[data-passkey="register"] [data-passkey-button]');
    await page.waitForURL(`${server.url}/account/security?notice=passkey-added`);
    expect(await page.locator('li.passkey strong').textContent()).toBe('Test phone');
    const pat = await server.app.stores.users.findByUsername('pat');
    expect(await server.app.stores.factors.passkeys(pat?.id ?? '')).toHaveLength(1);
  });

  it('signs in with the passkey the username field offers (conditional UI), no username typed', async () => {
    let posted: string | null = null;
    page.on('request', (req) => {
      if (req.url() === `${server.url}/account/login/passkey`) posted = req.postData();
    });
    await page.click('form[action="/account/logout"] button');
    // The virtual authenticator answers the page's conditional request at once, as a user picking
    // the passkey from the username field's suggestions would.
    await page.waitForURL(`${server.url}/account`);
    expect(posted).toContain('credential=');
    // The same signed answer again (same browser, same form token): its challenge is spent.
    const replay = await page.request.post(`${server.url}/account/login/passkey`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      data: posted ?? '',
      maxRedirects: 0,
    });
    expect(replay.status()).toBe(401);
    const success = await server.sql.get<{ details: string }>(
      "SELECT details FROM audit_events WHERE event = 'login.success' ORDER BY id DESC LIMIT 1",
    );
    expect(JSON.parse(String(success?.details))).toMatchObject({ method: 'passkey', page: 'account' });
  });

  it('gives an agent asking for a phishing-resistant sign-in a token that says so', async () => {
    const { verifier, challenge } = pkcePair();
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: receiver.redirectUrl,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      resource: RESOURCE,
      scope: 'mcp:read',
      state: 'passkey-state',
      acr_values: 'phr',
    });
    await page.goto(`${server.url}/authorize?${params}`);
    expect(await page.locator('input[name=password]').count()).toBe(0);
    expect(await page.evaluate(OVERFLOW)).toEqual([]);
    await page.click('form[data-passkey="sign-in"] [data-passkey-button]');
    await page.waitForSelector('form[action$="/consent"]');
    await page.click('button[name=decision][value=allow]');
    await page.waitForURL((url) => url.href.startsWith(`${receiver.redirectUrl}?`));
    const back = new URL(page.url());
    const res = await tokenRequest(server.url, {
      grant_type: 'authorization_code',
      code: back.searchParams.get('code') ?? '',
      redirect_uri: receiver.redirectUrl,
      code_verifier: verifier,
      client_id: client.client_id,
      resource: RESOURCE,
    });
    expect(res.status).toBe(200);
    const claims = decodeJwt(String(((await res.json()) as { access_token: string }).access_token));
    expect(claims.acr).toBe(ACR.phr);
    expect(claims.amr).toEqual(['pop', 'mfa']);
  });

  it.each(['ja', 'ko', 'en'])('fits the security and sign-in pages on a phone in %s', async (lang) => {
    await page.goto(`${server.url}/account/security?lang=${lang}`);
    expect(await page.getAttribute('html', 'lang')).toBe(lang);
    expect(await page.evaluate(OVERFLOW)).toEqual([]);
    const unlabelled = `[...document.querySelectorAll('input:not([type=hidden])')]
      .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label')).length`;
    expect(await page.evaluate(unlabelled)).toBe(0);
    // Signed out: the sign-in page with its passkey button.
    const visitor = await chromium().newContext({ viewport: PHONE });
    try {
      const other = await visitor.newPage();
      await other.goto(`${server.url}/account/login?lang=${lang}`);
      expect(await other.locator('form[data-passkey="sign-in"]').isVisible()).toBe(true);
      expect(await other.evaluate(OVERFLOW)).toEqual([]);
      expect(await other.evaluate(unlabelled)).toBe(0);
    } finally {
      await visitor.close();
    }
  });

  it.each(['ja', 'ko', 'en'])('fits the code step on a phone in %s', async (lang) => {
    const visitor = await chromium().newContext({ viewport: PHONE });
    try {
      const other = await visitor.newPage();
      await other.goto(`${server.url}/account/login?lang=${lang}`);
      await other.fill('#username', 'quinn');
      await other.fill('#password', PASSWORD);
      await other.click('form[action="/account/login"] button[type=submit]');
      await other.waitForSelector('input[name=code]');
      expect(await other.getAttribute('html', 'lang')).toBe(lang);
      expect(await other.evaluate(OVERFLOW)).toEqual([]);
      expect(await other.locator('label[for=code]').isVisible()).toBe(true);
    } finally {
      await visitor.close();
    }
  });
});
