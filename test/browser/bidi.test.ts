import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useChromium, usePage } from '../support/browser.js';
import { authorizationUrl, type BrowserAgent, startBrowserAgent } from '../support/browser_agent.js';

const PASSWORD = 'correct horse battery staple';

/** Left-to-right order of the first and last character boxes of the URI after the server's name. */
const URI_ENDS = `(() => {
  const code = document.querySelector('code.resource-uri');
  const text = code.firstChild;
  const box = (i) => { const r = document.createRange(); r.setStart(text, i); r.setEnd(text, i + 1); return r.getBoundingClientRect(); };
  return { text: text.data, first: box(0).left, last: box(text.data.length - 1).left };
})()`;

describe('a right-to-left override in a server name, in a real browser', () => {
  let agent: BrowserAgent;
  const browser = useChromium();
  const page = usePage(browser, { viewport: { width: 800, height: 900 } });

  beforeAll(async () => {
    agent = await startBrowserAgent({
      agentName: 'Plain Agent',
      resource: 'https://orders.example.com/mcp',
      resourceName: 'Orders \u202e DB',
      password: PASSWORD,
    });
  });
  afterAll(async () => {
    await agent?.close();
  });

  it("keeps our text after the name in reading order on the user's account page", async () => {
    // Authorize once, so the account page lists the grant with the server's name and URI.
    await page().goto(authorizationUrl(agent).url);
    await page().getByLabel('Username', { exact: true }).fill('alice');
    await page().getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page().getByRole('button', { name: 'Sign in', exact: true }).click();
    await page().getByRole('heading', { name: 'Allow access?' }).waitFor();
    await page().getByRole('button', { name: 'Allow', exact: true }).click();
    await page().waitForURL((url) => url.searchParams.has('code'));

    await page().goto(`${agent.server.url}/account`);
    if (await page().getByLabel('Password', { exact: true }).isVisible()) {
      await page().getByLabel('Username', { exact: true }).fill('alice');
      await page().getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page().getByRole('button', { name: 'Sign in', exact: true }).click();
    }
    await page().locator('code.resource-uri').first().waitFor();
    const got = (await page().evaluate(URI_ENDS)) as { text: string; first: number; last: number };
    expect(got.text).toBe('https://orders.example.com/mcp');
    // Without isolation the override in the name runs on and lays the URI out right to left.
    expect(got.first).toBeLessThan(got.last);
  });
});
