import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, PASSWORD, serverWithUsers } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { useChromium, usePage } from '../support/browser.js';
import { authorizationUrl, type BrowserAgent, landedAtAgent, startBrowserAgent } from '../support/browser_agent.js';

const csp = (res: Response) => res.headers.get('content-security-policy') ?? '';

describe('form-action on the pages', () => {
  const browser = useChromium();
  let agent: BrowserAgent;
  let server: TestServer;
  const page = usePage(browser);

  beforeAll(async () => {
    agent = await startBrowserAgent({
      agentName: 'Form Action Agent',
      resource: 'https://orders.example.com/mcp',
      resourceName: 'Orders DB',
      password: PASSWORD,
    });
    server = await serverWithUsers();
  });
  afterAll(async () => {
    await agent?.close();
    await server?.close();
  });

  it("sets form-action 'self' on the account, admin and error pages but not on the interaction pages", async () => {
    for (const path of ['/account/login', '/authorize?client_id=nobody']) {
      const res = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html' } });
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(csp(res), path).toContain("form-action 'self'");
    }
    const started = await fetch(authorizationUrl(agent).url, { redirect: 'manual' });
    const interaction = new URL(started.headers.get('location') ?? '', agent.server.url).href;
    expect(interaction).toContain('/interaction/');
    const login = await fetch(interaction, {
      headers: {
        cookie: started.headers
          .getSetCookie()
          .map((c) => c.split(';')[0])
          .join('; '),
      },
    });
    expect(login.status).toBe(200);
    expect(csp(login)).toContain("frame-ancestors 'none'");
    expect(csp(login)).not.toContain('form-action');
  });

  it('lets the consent form and the redirect after it reach the agent in Chromium', async () => {
    const started = authorizationUrl(agent);
    await page().goto(started.url);
    await page().getByLabel('Username', { exact: true }).fill('alice');
    await page().getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page().getByRole('button', { name: 'Sign in', exact: true }).click();
    await page().getByRole('button', { name: 'Allow', exact: true }).click();
    const back = await landedAtAgent(page(), agent);
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(back.searchParams.get('state')).toBe(started.state);
  });

  it("submits the admin console's forms under form-action 'self' in Chromium", async () => {
    const { grantId } = await connect(server, 'alice');
    await page().goto(`${server.url}/account/login?next=%2Fadmin`);
    await page().getByLabel('Username', { exact: true }).fill('root');
    await page().getByLabel('Password', { exact: true }).fill(PASSWORD);
    const signedIn = page().waitForURL(`${server.url}/admin`);
    await page().getByRole('button', { name: 'Sign in', exact: true }).click();
    await signedIn;
    const row = page().locator(`tr[data-grant-id="${grantId}"]`);
    await row.getByRole('button', { name: 'Revoke' }).click();
    // The confirmation page's form is the one that posts.
    await page().getByRole('heading', { level: 1, name: 'Are you sure?' }).waitFor();
    await page().getByRole('button', { name: 'Revoke', exact: true }).click();
    await page().getByRole('status').waitFor();
    expect(page().url()).toContain('notice=grant-revoked');
    expect((await server.app.stores.grantRecords.find(grantId))?.revokedAt).toEqual(expect.any(Number));
  });
});
