// The consent page in each language on a 375-pixel-wide phone screen in a real browser (Debian's
// Chromium via playwright-core): a screenshot per language (kept outside the repository, in
// $I18N_SCREENSHOT_DIR or the system temp dir), nothing wider than the screen, the language switcher
// and Accept-Language, labels on every field, keyboard use with a visible focus ring, and a write
// scope marked by text rather than colour alone.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalogues } from '../../src/i18n/catalogue.js';
import type { TestServer } from '../support/app.js';
import { useChromium } from '../support/browser.js';
import { authorizationUrl, type BrowserAgent, landedAtAgent, startBrowserAgent } from '../support/browser_agent.js';

const RESOURCE = 'https://orders.example.com/mcp';
const PASSWORD = 'correct horse battery staple';
// A long name and a long resource name: the texts must wrap, not widen the page.
const AGENT_NAME = 'Quarterly Revenue Reconciliation Assistant for Finance';
const RESOURCE_NAME = 'Orders and invoices database (production, read-replica excluded)';
const PHONE = { width: 375, height: 812 };
const SHOTS = process.env.I18N_SCREENSHOT_DIR ?? path.join(tmpdir(), 'mcp-oauth-i18n-screenshots');
const text = loadCatalogues();

type Lang = 'en' | 'ja' | 'ko';

/** What overflows the viewport horizontally (runs in the page; a string so no DOM types are needed). */
const OVERFLOW = `(() => {
  const vw = window.innerWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > vw + 0.5 || r.left < -0.5) wide.push(el.tagName.toLowerCase() + '.' + el.className + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
  }
  return { vw, scrollWidth: document.documentElement.scrollWidth, wide };
})()`;

/** Form fields a user can reach without a label (hidden inputs excepted). */
const UNLABELLED = `(() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
  .map((el) => el.outerHTML))()`;

/** The focused element, and whether it shows a focus ring. */
const FOCUSED = `(() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(),
    type: el.getAttribute('type') || '',
    name: el.getAttribute('name') || '',
    value: el.getAttribute('value') || '',
    href: el.getAttribute('href') || '',
    ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
  };
})()`;

interface Overflow {
  vw: number;
  scrollWidth: number;
  wide: string[];
}

describe('pages in three languages on a phone', () => {
  let agent: BrowserAgent;
  let server: TestServer;
  const browser = useChromium();
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    agent = await startBrowserAgent({
      agentName: AGENT_NAME,
      resource: RESOURCE,
      resourceName: RESOURCE_NAME,
      password: PASSWORD,
    });
    server = agent.server;
    await server.app.stores.resources.describe(RESOURCE, 'ja', [
      { scope: 'mcp:read', description: 'データの読み取りとツール一覧の表示' },
      { scope: 'mcp:write', description: 'データの変更と、書き込みを行うツールの実行' },
    ]);
    await server.app.stores.resources.describe(RESOURCE, 'ko', [
      { scope: 'mcp:read', description: '데이터 읽기 및 도구 목록 보기' },
      { scope: 'mcp:write', description: '데이터 변경 및 쓰기 도구 실행' },
    ]);
  });

  afterAll(async () => {
    await agent?.close();
  });

  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  async function phone(options: BrowserContextOptions = {}): Promise<Page> {
    context = await browser().newContext({ viewport: PHONE, ...options });
    return context.newPage();
  }

  /** Signs in through the labels of `lang`: the fields must be labelled in that language. */
  async function signIn(page: Page, lang: Lang): Promise<void> {
    await page.getByLabel(text[lang]['login.username'] as string, { exact: true }).fill('alice');
    await page.getByLabel(text[lang]['login.password'] as string, { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: text[lang]['login.submit'], exact: true }).click();
    await page.getByRole('heading', { level: 1, name: text[lang]['consent.heading'] }).waitFor();
  }

  async function expectFits(page: Page, where: string): Promise<void> {
    const result = (await page.evaluate(OVERFLOW)) as Overflow;
    expect(result.vw, where).toBe(PHONE.width);
    expect(result.scrollWidth, `${where}: page width`).toBeLessThanOrEqual(result.vw);
    expect(result.wide, `${where}: elements wider than the screen`).toEqual([]);
  }

  it.each(['en', 'ja', 'ko'] as const)(
    'the %s consent page fits a 375-pixel screen, has a label on every field and marks the write scope in words',
    async (lang) => {
      const page = await phone();
      await page.goto(authorizationUrl(agent).url);
      await page.getByRole('link', { name: { en: 'English', ja: '日本語', ko: '한국어' }[lang], exact: true }).click();
      await page.waitForURL((url) => url.searchParams.get('lang') === lang);
      await page.getByRole('heading', { level: 1, name: text[lang]['login.heading'] }).waitFor();
      expect(await page.locator('html').getAttribute('lang')).toBe(lang);
      await expectFits(page, `${lang} login`);
      expect(await page.evaluate(UNLABELLED)).toEqual([]);
      await signIn(page, lang);

      expect(await page.locator('html').getAttribute('lang')).toBe(lang);
      await page.screenshot({ path: path.join(SHOTS, `consent-${lang}-375.png`), fullPage: true });
      await expectFits(page, `${lang} consent`);
      expect(await page.evaluate(UNLABELLED)).toEqual([]);

      const main = page.locator('main');
      expect(await main.textContent()).toContain(AGENT_NAME);
      expect(await main.textContent()).toContain(RESOURCE_NAME);
      const writeItem = page.locator('li.scope.write');
      const readItem = page.locator('li.scope:not(.write)');
      const marker = text[lang]['scope.canChange'] as string;
      expect(await writeItem.getByText(marker).isVisible()).toBe(true);
      expect(await readItem.getByText(marker).count()).toBe(0);
      // How long and how to take it back, in this language.
      expect(await page.locator('.terms .duration').textContent()).toMatch(/90/);
      const back = page.getByRole('link', { name: text[lang]['nav.account'], exact: true });
      expect(await back.getAttribute('href')).toBe('/account');
      expect(await page.getByRole('button', { name: text[lang]['consent.allow'], exact: true }).isVisible()).toBe(true);
      expect(await page.getByRole('button', { name: text[lang]['consent.deny'], exact: true }).isVisible()).toBe(true);
    },
  );

  it('is used with the keyboard alone: logical tab order, a visible focus ring, Space and Enter', async () => {
    const page = await phone();
    await page.goto(authorizationUrl(agent).url);
    // The username field has autofocus; type, Tab to the password, Enter submits.
    await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe('username');
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Allow access?' }).waitFor();

    const order: { tag: string; name: string; value: string; href: string; ring: boolean }[] = [];
    for (let i = 0; i < 9; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(FOCUSED));
    }
    const describeStop = (f: (typeof order)[number]) => f.href || `${f.tag}:${f.name}=${f.value}`;
    expect(order.map(describeStop)).toEqual([
      expect.stringMatching(/lang=en$/),
      expect.stringMatching(/lang=ja$/),
      expect.stringMatching(/lang=ko$/),
      // "Not alice? Use another account", under the heading.
      'button:=',
      'input:scope=mcp:read',
      'input:scope=mcp:write',
      '/account',
      'button:decision=deny',
      'button:decision=allow',
    ]);
    expect(order.filter((f) => !f.ring)).toEqual([]);

    // Back from Allow to the write checkbox, untick it with Space, then Allow with Enter.
    for (let i = 0; i < 3; i++) await page.keyboard.press('Shift+Tab');
    expect(await page.evaluate(FOCUSED)).toMatchObject({ name: 'scope', value: 'mcp:write' });
    await page.keyboard.press('Space');
    expect(await page.getByRole('checkbox', { name: /Change data/ }).isChecked()).toBe(false);
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    expect(await page.evaluate(FOCUSED)).toMatchObject({ value: 'allow' });
    await page.keyboard.press('Enter');
    await landedAtAgent(page, agent);
    expect(new URL(page.url()).searchParams.get('code')).toBeTruthy();
  });

  it.each([
    ['ja-JP', 'ja'],
    ['ko-KR', 'ko'],
    ['fr-FR', 'en'],
  ] as const)('a browser set to %s gets %s without choosing', async (locale, lang) => {
    const page = await phone({ locale });
    await page.goto(authorizationUrl(agent).url);
    expect(await page.locator('html').getAttribute('lang')).toBe(lang);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(text[lang]['login.heading']);
    await signIn(page, lang);
    await expectFits(page, `${lang} consent from Accept-Language`);
  });

  it('keeps a choice made with the switcher over the browser language, across sign-in and later pages', async () => {
    const page = await phone({ locale: 'ja-JP' });
    await page.goto(authorizationUrl(agent).url);
    expect(await page.locator('html').getAttribute('lang')).toBe('ja');
    await page.getByRole('link', { name: '한국어', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: text.ko['login.heading'] }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('ko');
    await signIn(page, 'ko');
    await page.getByRole('button', { name: text.ko['consent.allow'], exact: true }).click();
    await landedAtAgent(page, agent);

    // The account pages, reached later in the same browser, are in Korean too and fit the phone.
    await page.goto(`${server.url}/account`);
    expect(await page.locator('html').getAttribute('lang')).toBe('ko');
    await page.getByLabel(text.ko['login.username'] as string, { exact: true }).fill('alice');
    await page.getByLabel(text.ko['login.password'] as string, { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: text.ko['login.submit'], exact: true }).click();
    await page.getByRole('heading', { level: 1, name: text.ko['account.heading'] }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'account-ko-375.png'), fullPage: true });
    await expectFits(page, 'ko account');
    expect(
      await page
        .locator('li.scope.write')
        .getByText(text.ko['scope.canChange'] as string)
        .isVisible(),
    ).toBe(true);
  });

  it.each(['en', 'ja', 'ko'] as const)(
    'the %s admin pages scroll only inside their tables on a phone',
    async (lang) => {
      await server.addUser(`root-${lang}`, PASSWORD, { admin: true });
      const page = await phone();
      await page.goto(`${server.url}/account/login?lang=${lang}&next=/admin`);
      await page.getByLabel(text[lang]['login.username'] as string, { exact: true }).fill(`root-${lang}`);
      await page.getByLabel(text[lang]['login.password'] as string, { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: text[lang]['login.submit'], exact: true }).click();
      await page.getByRole('heading', { level: 1, name: text[lang]['grants.heading'] }).waitFor();
      for (const where of ['/admin?state=all', '/admin/agents', '/admin/users', '/admin/audit', '/account']) {
        await page.goto(`${server.url}${where}`);
        expect(await page.locator('html').getAttribute('lang')).toBe(lang);
        const result = (await page.evaluate(OVERFLOW)) as Overflow;
        expect(result.scrollWidth, `${lang} ${where}: ${result.wide.slice(0, 6).join(', ')}`).toBeLessThanOrEqual(
          PHONE.width,
        );
        expect(await page.evaluate(UNLABELLED), `${lang} ${where}`).toEqual([]);
        const name = where.replace(/\?.*$/, '').replace(/\//g, '-').slice(1);
        await page.screenshot({ path: path.join(SHOTS, `${name}-${lang}-375.png`), fullPage: true });
      }
    },
  );
});
