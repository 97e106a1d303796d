// The admin console in a real browser: an admin signs in on the way to /admin, filters the grants
// by user, revokes one with its button, and disables an agent from the agents page.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_NAME, connect, PASSWORD, refresh, serverWithUsers } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { useChromium } from '../support/browser.js';

const ADMIN_SHOT = process.env.ADMIN_SCREENSHOT ?? '/tmp/admin.png';
const AGENTS_SHOT = process.env.ADMIN_AGENTS_SCREENSHOT ?? '/tmp/admin-agents.png';

describe('admin console in a real browser', () => {
  let server: TestServer;
  const browser = useChromium();
  let context: BrowserContext | undefined;
  let page: Page;

  beforeAll(async () => {
    server = await serverWithUsers();
  });
  afterAll(async () => {
    await context?.close();
    await server?.close();
  });
  beforeEach(async () => {
    context ??= await browser().newContext({ viewport: { width: 1280, height: 800 } });
    page ??= await context.newPage();
  });

  it('a non-admin who signs in on the way to /admin sees 403', async () => {
    await page.goto(`${server.url}/admin`);
    await page.getByLabel('Username', { exact: true }).fill('alice');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    const response = page.waitForResponse((r) => new URL(r.url()).pathname === '/admin');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    expect((await response).status()).toBe(403);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Not allowed');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${server.url}/account/login`);
  });

  it('an admin filters the grants by user and revokes one', async () => {
    const a = await connect(server, 'alice');
    const b = await connect(server, 'bob', undefined, 'mcp:read');
    await page.goto(`${server.url}/admin`);
    await expect.poll(() => new URL(page.url()).pathname).toBe('/account/login');
    await page.getByLabel('Username', { exact: true }).fill('root');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${server.url}/admin`);
    expect(await page.locator(`tr[data-grant-id="${a.grantId}"]`).count()).toBe(1);
    expect(await page.locator(`tr[data-grant-id="${b.grantId}"]`).count()).toBe(1);
    await page.screenshot({ path: ADMIN_SHOT, fullPage: true });

    await page.getByLabel('User').fill('alice');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL((url) => url.searchParams.get('user') === 'alice');
    expect(await page.locator(`tr[data-grant-id="${b.grantId}"]`).count()).toBe(0);
    const row = page.locator(`tr[data-grant-id="${a.grantId}"]`);
    expect(await row.locator('.client-name').textContent()).toBe(AGENT_NAME);
    await row.getByRole('button', { name: 'Revoke' }).click();
    // A confirmation step naming the agent; nothing is revoked until it is confirmed.
    await page.waitForURL((url) => url.pathname === `/admin/grants/${a.grantId}/revoke`);
    expect(await page.locator('.confirm-question').textContent()).toContain(AGENT_NAME);
    expect((await refresh(server, a)).status).toBe(200);
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.waitForURL((url) => url.searchParams.get('notice') === 'grant-revoked');
    expect(new URL(page.url()).searchParams.get('user')).toBe('alice');
    expect(await page.getByRole('status').textContent()).toContain('Grant revoked.');
    expect(await page.locator(`tr[data-grant-id="${a.grantId}"]`).count()).toBe(0);
    expect((await refresh(server, a)).status).toBe(400);
    expect((await refresh(server, b)).status).toBe(200);
  });

  it('an admin disables an agent from the agents page', async () => {
    const c = await connect(server, 'bob');
    await page.goto(`${server.url}/admin/agents`);
    const row = page.locator(`tr[data-client-id="${c.client.client_id}"]`);
    expect(await row.textContent()).toContain('dynamic');
    await page.screenshot({ path: AGENTS_SHOT, fullPage: true });
    await row.getByRole('button', { name: 'Disable' }).click();
    await page.waitForURL((url) => url.pathname.endsWith('/disable'));
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.waitForURL((url) => url.searchParams.get('notice') === 'agent-disabled');
    expect(await page.locator(`tr[data-client-id="${c.client.client_id}"] .badge`).textContent()).toBe('disabled');
    expect((await refresh(server, c)).status).toBe(401);
  });
});
