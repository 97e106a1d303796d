// A user cuts an agent off from the Connected agents page in a real browser (Debian's Chromium
// driven by playwright-core): sign in, see the agent and the MCP server, click Revoke, see it gone.
// Afterwards the agent's refresh token is refused and its next authorization asks for consent again.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AGENT_NAME,
  connect,
  PASSWORD,
  RESOURCE,
  RESOURCE_NAME,
  refresh,
  serverWithUsers,
} from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { useChromium } from '../support/browser.js';
import { authorize, PUBLIC_CLIENT, register } from '../support/oauth.js';

const ACCOUNT_SHOT = process.env.ACCOUNT_SCREENSHOT ?? '/tmp/account.png';

describe('Connected agents in a real browser', () => {
  let server: TestServer;
  const browser = useChromium();
  let context: BrowserContext | undefined;
  let page: Page;

  beforeAll(async () => {
    server = await serverWithUsers();
  });
  afterAll(async () => {
    await server?.close();
  });
  beforeEach(async () => {
    context = await browser().newContext({ viewport: { width: 900, height: 900 } });
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  async function signIn(username: string, password = PASSWORD): Promise<void> {
    await page.goto(`${server.url}/account`);
    await expect.poll(() => new URL(page.url()).pathname).toBe('/account/login');
    await page.getByLabel('Username', { exact: true }).fill(username);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  it('a wrong password gets the one failure message and no session', async () => {
    await signIn('alice', 'wrong password, sorry');
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Wrong username or password.');
    expect((await context?.cookies())?.some((c) => c.name === 'mcp_account')).toBe(false);
  });

  it('signs in, shows the agent and the MCP server, revokes it after a confirmation naming it; the agent must ask again', async () => {
    // A web agent (https callback): oidc-provider asks native agents for consent every time, so only
    // for a web agent does a second consent page show that the grant is gone.
    const web = await register(server.url, { ...PUBLIC_CLIENT, redirect_uris: ['https://agent.example/callback'] });
    const agent = await connect(server, 'alice', web, 'mcp:read mcp:write');
    // Control: while the grant stands, authorizing again needs no consent.
    const before = await authorize(server.url, {
      client: agent.client,
      username: 'alice',
      password: PASSWORD,
      resource: RESOURCE,
      scope: 'mcp:read',
    });
    expect(before.consentHtml).toBeUndefined();
    expect(before.code).not.toBeNull();

    await signIn('alice');
    await page.waitForURL(`${server.url}/account`);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Connected agents');
    const cookie = (await context?.cookies())?.find((c) => c.name === 'mcp_account');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });

    const card = page.locator('li.grant', { hasText: agent.client.client_id });
    await expect.poll(() => card.count()).toBe(1);
    expect(await card.locator('.client-name').textContent()).toBe(AGENT_NAME);
    expect(await card.locator('.resource-name').textContent()).toBe(RESOURCE_NAME);
    expect(await card.locator('.resource-uri').textContent()).toBe(RESOURCE);
    expect(await card.locator('.scope-text').allTextContents()).toEqual([
      'Read data and list tools',
      'Change data and call tools that write',
    ]);
    expect(await card.textContent()).toContain('self-declared name');
    await page.screenshot({ path: ACCOUNT_SHOT, fullPage: true });

    await card.getByRole('button', { name: `Revoke ${AGENT_NAME} on ${RESOURCE_NAME}` }).click();
    // The confirmation step names the agent and the server; Revoke there revokes.
    await page.waitForURL((url) => url.pathname.endsWith('/revoke'));
    expect(await page.locator('.confirm-question').textContent()).toContain(AGENT_NAME);
    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    await page.waitForURL((url) => url.searchParams.get('notice') === 'revoked');
    expect(await page.getByRole('status').textContent()).toContain(
      `Access revoked for ${AGENT_NAME} on ${RESOURCE_NAME}.`,
    );
    expect(await page.locator('li.grant', { hasText: agent.client.client_id }).count()).toBe(0);
    expect(await page.getByText('No agent is connected to your account.').count()).toBe(1);

    const res = await refresh(server, agent);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
    const again = await authorize(server.url, {
      client: agent.client,
      username: 'alice',
      password: PASSWORD,
      resource: RESOURCE,
      scope: 'mcp:read',
    });
    expect(again.consentHtml).toContain('Read data and list tools');
    expect(again.code).not.toBeNull();
  });
});
