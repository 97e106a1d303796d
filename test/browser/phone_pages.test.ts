// The pages' rough edges on a 390×844 phone in English, Japanese and Korean, in a real browser:
// "Not you?" on the consent page, the warning for an unverified agent sending the browser to an
// unrelated site, a confirmation step (no script) before Revoke, Disable and "Revoke all grants",
// the revoke notice naming the agent, the admin tables as cards with the action on screen, the
// audit details as text, the favicon, and the empty Connected agents page.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalogues } from '../../src/i18n/catalogue.js';
import { AGENT_NAME, connect, PASSWORD, RESOURCE, RESOURCE_NAME, serverWithUsers } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { useChromium } from '../support/browser.js';
import { type LoopbackReceiver, startLoopbackReceiver } from '../support/mcp_agent.js';
import { pkcePair, type RegisteredClient, register } from '../support/oauth.js';

const PHONE = { width: 390, height: 844 };
// Screenshots for a person to look at, outside the repository.
const SHOTS = process.env.I18N_SCREENSHOT_DIR ?? path.join(tmpdir(), 'mcp-oauth-i18n-screenshots');
const LOCALES = { en: 'en-US', ja: 'ja-JP', ko: 'ko-KR' } as const;
type Lang = keyof typeof LOCALES;
const text = loadCatalogues();
const t = (lang: Lang, key: string, params: Record<string, string> = {}) =>
  Object.entries(params).reduce((s, [k, v]) => s.replace(`{${k}}`, v), text[lang][key] as string);

/** Elements sticking out of the viewport sideways (runs in the page). */
const OVERFLOW = `(() => {
  const vw = window.innerWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > vw + 0.5 || r.left < -0.5) wide.push(el.tagName.toLowerCase() + '.' + el.className);
  }
  return { scrollWidth: document.documentElement.scrollWidth, vw, wide };
})()`;

describe('the pages on a phone in three languages', () => {
  const browser = useChromium();
  let server: TestServer;
  let receiver: LoopbackReceiver;
  let agent: RegisteredClient;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await serverWithUsers();
    receiver = await startLoopbackReceiver();
    agent = await register(server.url, {
      client_name: AGENT_NAME,
      redirect_uris: [receiver.redirectUrl],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    });
  });

  afterAll(async () => {
    await receiver?.close();
    await server?.close();
  });

  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  async function phone(lang: Lang): Promise<Page> {
    context = await browser().newContext({ viewport: PHONE, locale: LOCALES[lang] });
    return context.newPage();
  }

  function authorizeUrl(client: RegisteredClient, redirectUri: string): { url: string; state: string } {
    const state = `s-${Math.random().toString(36).slice(2)}`;
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: redirectUri,
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      resource: RESOURCE,
      scope: 'mcp:read',
      state,
    });
    return { url: `${server.url}/authorize?${params}`, state };
  }

  async function signIn(page: Page, lang: Lang, username: string): Promise<void> {
    await page.getByLabel(t(lang, 'login.username'), { exact: true }).fill(username);
    await page.getByLabel(t(lang, 'login.password'), { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: t(lang, 'login.submit'), exact: true }).click();
  }

  async function expectFits(page: Page, where: string): Promise<void> {
    const r = (await page.evaluate(OVERFLOW)) as { scrollWidth: number; vw: number; wide: string[] };
    expect(r.vw, where).toBe(PHONE.width);
    expect(r.scrollWidth, `${where}: page width`).toBeLessThanOrEqual(r.vw);
    expect(r.wide, `${where}: wider than the screen`).toEqual([]);
  }

  /** The element is on screen horizontally: a thumb can reach it without scrolling sideways. */
  async function expectOnScreen(page: Page, selector: string): Promise<void> {
    const box = await page.locator(selector).first().boundingBox();
    expect(box, selector).not.toBeNull();
    expect(box?.x, selector).toBeGreaterThanOrEqual(0);
    expect((box?.x ?? 0) + (box?.width ?? 0), selector).toBeLessThanOrEqual(PHONE.width);
  }

  it.each(['en', 'ja', 'ko'] as const)(
    '%s: "Not you?" signs out and brings the same request back for bob',
    async (lang) => {
      const page = await phone(lang);
      const start = authorizeUrl(agent, receiver.redirectUrl);
      await page.goto(start.url);
      await signIn(page, lang, 'alice');
      await page.getByRole('heading', { level: 1, name: t(lang, 'consent.heading') }).waitFor();
      expect(await page.locator('.other-account strong').textContent()).toBe('alice');
      expect(await page.locator('.other-account').textContent()).toContain(
        t(lang, 'consent.notYou', { user: 'alice' }),
      );
      await expectFits(page, `${lang} consent`);

      await page.getByRole('button', { name: t(lang, 'consent.useAnother'), exact: true }).click();
      await page.getByRole('heading', { level: 1, name: t(lang, 'login.heading') }).waitFor();
      await signIn(page, lang, 'bob');
      await page.getByRole('heading', { level: 1, name: t(lang, 'consent.heading') }).waitFor();
      expect(await page.locator('.other-account strong').textContent()).toBe('bob');
      await page.getByRole('button', { name: t(lang, 'consent.allow'), exact: true }).click();
      await page.waitForURL((url) => url.href.startsWith(`${receiver.redirectUrl}?`));
      const back = new URL(page.url());
      expect(back.searchParams.get('state')).toBe(start.state);
      expect(back.searchParams.get('code')).toBeTruthy();
      // The grant is bob's; alice's session is gone, so nothing was allowed in her name.
      const bob = await server.app.stores.users.findByUsername('bob');
      const alice = await server.app.stores.users.findByUsername('alice');
      const mine = async (id: string | undefined) =>
        (await server.app.stores.grantRecords.list({ accountId: id ?? '', state: 'all' })).filter(
          (g) => g.clientId === agent.client_id,
        );
      expect((await mine(bob?.id)).length).toBeGreaterThan(0);
      expect(await mine(alice?.id)).toEqual([]);
    },
  );

  it.each(['en', 'ja', 'ko'] as const)(
    '%s: an unverified agent sending the browser to an unrelated site is flagged',
    async (lang) => {
      const lookalike = await register(server.url, {
        client_name: 'Claude',
        redirect_uris: ['https://collector.example.net/cb'],
        token_endpoint_auth_method: 'none',
      });
      const page = await phone(lang);
      await page.goto(authorizeUrl(lookalike, 'https://collector.example.net/cb').url);
      await signIn(page, lang, 'alice');
      await page.getByRole('heading', { level: 1, name: t(lang, 'consent.heading') }).waitFor();
      const warning = page.locator('.redirect-unrelated');
      expect(await warning.getAttribute('role')).toBe('alert');
      expect(await warning.textContent()).toContain(
        t(lang, 'consent.unrelated', { agent: 'Claude', host: 'collector.example.net' }),
      );
      await expectFits(page, `${lang} consent with warning`);
      await page.screenshot({ path: path.join(SHOTS, `consent-unrelated-${lang}-390.png`), fullPage: true });
    },
  );

  it('an agent whose redirect is on the site it names (client_uri) is not flagged, nor a local one', async () => {
    const honest = await register(server.url, {
      client_name: 'Helper',
      client_uri: 'https://www.example.net/',
      redirect_uris: ['https://app.example.net/cb'],
      token_endpoint_auth_method: 'none',
    });
    const page = await phone('en');
    await page.goto(authorizeUrl(honest, 'https://app.example.net/cb').url);
    await signIn(page, 'en', 'alice');
    await page.getByRole('heading', { level: 1, name: t('en', 'consent.heading') }).waitFor();
    expect(await page.locator('.redirect-unrelated').count()).toBe(0);
    await page.goto(authorizeUrl(agent, receiver.redirectUrl).url);
    await page.getByRole('heading', { level: 1, name: t('en', 'consent.heading') }).waitFor();
    expect(await page.locator('.redirect-unrelated').count()).toBe(0);
  });

  it.each(['en', 'ja', 'ko'] as const)(
    '%s: Revoke asks first, naming the agent; the notice names it too',
    async (lang) => {
      await connect(server, 'alice');
      const page = await phone(lang);
      await page.goto(`${server.url}/account/login`);
      await signIn(page, lang, 'alice');
      await page.getByRole('heading', { level: 1, name: t(lang, 'account.heading') }).waitFor();
      await expectFits(page, `${lang} connected agents`);
      await page.locator('li.grant button.danger').first().click();

      await page.getByRole('heading', { level: 1, name: t(lang, 'confirm.heading') }).waitFor();
      const question = t(lang, 'confirm.accountRevoke', { agent: AGENT_NAME, server: RESOURCE_NAME });
      expect(await page.locator('.confirm-question').textContent()).toBe(question);
      await expectFits(page, `${lang} confirm`);
      await page.screenshot({ path: path.join(SHOTS, `confirm-revoke-${lang}-390.png`), fullPage: true });
      // Cancel changes nothing.
      await page.getByRole('link', { name: t(lang, 'confirm.cancel'), exact: true }).click();
      await page.getByRole('heading', { level: 1, name: t(lang, 'account.heading') }).waitFor();
      expect(await page.locator('li.grant').count()).toBeGreaterThan(0);

      await page.locator('li.grant button.danger').first().click();
      await page.getByRole('button', { name: t(lang, 'account.revoke'), exact: true }).click();
      await page.waitForURL((url) => url.searchParams.get('notice') === 'revoked');
      expect(await page.getByRole('status').textContent()).toBe(
        t(lang, 'account.revokedAgent', { agent: AGENT_NAME, server: RESOURCE_NAME }),
      );
      // Nothing left: the page tells how to connect an agent, not "another" one.
      expect(await page.locator('li.grant').count()).toBe(0);
      expect(await page.getByText(t(lang, 'account.howToConnectFirst'), { exact: true }).count()).toBe(1);
      expect(await page.getByText(t(lang, 'account.howToConnect'), { exact: true }).count()).toBe(0);
    },
  );

  it.each(['en', 'ja', 'ko'] as const)(
    '%s: the admin tables are cards on a phone, the action on screen and confirmed',
    async (lang) => {
      const c = await connect(server, 'bob');
      const page = await phone(lang);
      await page.goto(`${server.url}/account/login?next=%2Fadmin`);
      await signIn(page, lang, 'root');
      await page.waitForURL((url) => url.pathname === '/admin');
      const row = `tr[data-grant-id="${c.grantId}"]`;
      await expectFits(page, `${lang} grants`);
      await page.screenshot({ path: path.join(SHOTS, `admin-grants-${lang}-390.png`), fullPage: true });
      await expectOnScreen(page, `${row} button.danger`);
      expect(
        await page
          .locator(`${row} td[data-label]`)
          .first()
          .evaluate(
            (el) =>
              (
                globalThis as unknown as { getComputedStyle(e: unknown, pseudo: string): { content: string } }
              ).getComputedStyle(el, '::before').content,
          ),
      ).toBe(JSON.stringify(t(lang, 'col.user')));

      await page.goto(`${server.url}/admin/agents`);
      const agentRow = `tr[data-client-id="${c.client.client_id}"]`;
      await expectFits(page, `${lang} agents`);
      await expectOnScreen(page, `${agentRow} button.danger`);
      await page.locator(`${agentRow} button.danger`).click();
      await page.getByRole('heading', { level: 1, name: t(lang, 'confirm.heading') }).waitFor();
      expect(await page.locator('.confirm-question').textContent()).toBe(
        t(lang, 'confirm.agentDisable', { agent: AGENT_NAME }),
      );
      await expectFits(page, `${lang} confirm disable`);
      await page.getByRole('link', { name: t(lang, 'confirm.cancel'), exact: true }).click();
      await page.waitForURL((url) => url.pathname === '/admin/agents');
      expect((await server.app.stores.clientState.find(c.client.client_id))?.disabledAt ?? null).toBeNull();

      await page.goto(`${server.url}/admin/users`);
      await expectFits(page, `${lang} users`);
      await expectOnScreen(page, 'tr[data-username="bob"] button.danger');

      await page.goto(`${server.url}/admin/audit`);
      await expectFits(page, `${lang} audit`);
      await page.screenshot({ path: path.join(SHOTS, `admin-audit-${lang}-390.png`), fullPage: true });
      // Details as "name: value" lines, not JSON; the filter button styled like the other pages'.
      expect(await page.locator('.details-list dt').count()).toBeGreaterThan(0);
      expect(await page.locator('.audit-table td[data-label]').allTextContents()).not.toContainEqual(
        expect.stringMatching(/^\s*\{/),
      );
      expect(
        await page.getByRole('button', { name: t(lang, 'action.filter'), exact: true }).getAttribute('class'),
      ).toBe('primary');
    },
  );

  it('every page links an icon, and /favicon.ico answers with it', async () => {
    const page = await phone('en');
    await page.goto(`${server.url}/account/login`);
    const href = await page.locator('link[rel="icon"]').getAttribute('href');
    expect(href).toBe('/static/favicon.svg');
    for (const path of [href, '/favicon.ico']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, String(path)).toBe(200);
      expect(res.headers.get('content-type')).toContain('image/svg+xml');
      expect(await res.text()).toContain('<svg');
    }
  });
});
