// The login and consent pages in a real browser (Debian's Chromium driven by playwright-core):
// what the user sees, what the controls are called, and what each decision sends back to the agent.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/app.js';
import { useChromium } from '../support/browser.js';
import { authorizationUrl, type BrowserAgent, landedAtAgent, startBrowserAgent } from '../support/browser_agent.js';
import type { LoopbackReceiver } from '../support/mcp_agent.js';
import { type RegisteredClient, tokenRequest } from '../support/oauth.js';

const RESOURCE = 'https://orders.example.com/mcp';
const RESOURCE_NAME = 'Orders DB';
const AGENT_NAME = 'Browser Test Agent';
const PASSWORD = 'correct horse battery staple';
const LOGIN_SHOT = process.env.LOGIN_SCREENSHOT ?? '/tmp/login.png';
const CONSENT_SHOT = process.env.CONSENT_SCREENSHOT ?? '/tmp/consent.png';

describe('login and consent pages in a real browser', () => {
  let agent: BrowserAgent;
  let server: TestServer;
  let receiver: LoopbackReceiver;
  let client: RegisteredClient;
  const browser = useChromium();
  let context: BrowserContext | undefined;
  let page: Page;

  beforeAll(async () => {
    agent = await startBrowserAgent({
      agentName: AGENT_NAME,
      resource: RESOURCE,
      resourceName: RESOURCE_NAME,
      password: PASSWORD,
    });
    ({ server, receiver, client } = agent);
  });

  afterAll(async () => {
    await agent?.close();
  });

  beforeEach(async () => {
    // A fresh profile per test: no session cookie carries over from another test.
    context = await browser().newContext({ viewport: { width: 800, height: 900 } });
    page = await context.newPage();
  });

  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  async function signIn(password = PASSWORD): Promise<void> {
    await page.getByLabel('Username', { exact: true }).fill('alice');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  it('shows who asks for what, lets the user untick the write scope, and the token carries only mcp:read', async () => {
    const started = authorizationUrl(agent);
    await page.goto(started.url);

    // Login page.
    await expect.poll(() => page.title()).toContain('Sign in');
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    expect(await page.locator('main').textContent()).toContain(AGENT_NAME);
    await page.screenshot({ path: LOGIN_SHOT, fullPage: true });
    await signIn();

    // Consent page.
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await page.screenshot({ path: CONSENT_SHOT, fullPage: true });
    const lead = page.locator('p.lead');
    expect(await lead.textContent()).toContain(AGENT_NAME);
    expect(await lead.textContent()).toMatch(/self-declared/i);
    expect(await lead.textContent()).toContain('alice');
    const main = page.locator('main');
    expect(await main.getByText(RESOURCE_NAME, { exact: true }).isVisible()).toBe(true);
    expect(await main.getByText(RESOURCE, { exact: true }).isVisible()).toBe(true);
    expect(await page.locator('p.redirect').textContent()).toContain('127.0.0.1');

    const read = page.getByRole('checkbox', { name: /Read data and list tools/ });
    const write = page.getByRole('checkbox', { name: /Change data and call tools that write/ });
    expect(await read.isVisible()).toBe(true);
    expect(await write.isVisible()).toBe(true);
    expect(await read.isChecked()).toBe(true);
    expect(await write.isChecked()).toBe(true);
    // The write permission is visibly marked: a badge, and set apart in colour from the read one.
    const writeItem = page.locator('li.scope', { has: write });
    const readItem = page.locator('li.scope', { has: read });
    expect(await writeItem.getByText('can change data').isVisible()).toBe(true);
    expect(await readItem.getByText('can change data').count()).toBe(0);
    // Runs in the page; typed without the DOM lib, which the project's tsconfig leaves out.
    const colour = (item: typeof writeItem) =>
      item
        .locator('label')
        .evaluate(
          (el) =>
            (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(el).color,
        );
    expect(await colour(writeItem)).not.toBe(await colour(readItem));

    const allow = page.getByRole('button', { name: 'Allow', exact: true });
    const deny = page.getByRole('button', { name: 'Deny', exact: true });
    expect(await allow.isVisible()).toBe(true);
    expect(await deny.isVisible()).toBe(true);
    // Allow, Deny, and "Use another account" (a link-styled button under the heading).
    expect(await page.getByRole('button').count()).toBe(3);

    await write.uncheck();
    expect(await write.isChecked()).toBe(false);
    await allow.click();

    const back = await landedAtAgent(page, agent);
    expect(back.searchParams.get('error')).toBeNull();
    expect(back.searchParams.get('state')).toBe(started.state);
    expect(back.searchParams.get('iss')).toBe(server.url);
    const code = back.searchParams.get('code');
    expect(code).toBeTruthy();
    expect(await page.locator('body').textContent()).toContain('You can close this window');

    const res = await tokenRequest(server.url, {
      grant_type: 'authorization_code',
      code: code ?? '',
      redirect_uri: receiver.redirectUrl,
      code_verifier: started.verifier,
      client_id: client.client_id,
      resource: RESOURCE,
    });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.scope).toBe('mcp:read');
    const { payload } = await jwtVerify(
      body.access_token as string,
      createRemoteJWKSet(new URL(`${server.url}/jwks`)),
      {
        issuer: server.url,
        audience: RESOURCE,
        typ: 'at+jwt',
      },
    );
    expect(payload.scope).toBe('mcp:read');
  });

  it('Deny sends the browser back to the agent with error=access_denied and no code', async () => {
    const started = authorizationUrl(agent);
    await page.goto(started.url);
    await signIn();
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await page.getByRole('button', { name: 'Deny', exact: true }).click();

    const back = await landedAtAgent(page, agent);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('code')).toBeNull();
    expect(back.searchParams.get('state')).toBe(started.state);
    expect(back.searchParams.get('iss')).toBe(server.url);
  });

  it('a wrong password keeps the user on the login page with "Wrong username or password"', async () => {
    const started = authorizationUrl(agent);
    await page.goto(started.url);
    await signIn('not the password');

    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('Wrong username or password');
    expect(await page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    expect(await page.getByLabel('Username', { exact: true }).inputValue()).toBe('alice');
    expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    expect(page.url().startsWith(server.url)).toBe(true);
    expect(receiver.received.filter((u) => u.searchParams.get('state') === started.state)).toHaveLength(0);

    // The right password on the same page still works.
    await signIn();
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
  });
});
