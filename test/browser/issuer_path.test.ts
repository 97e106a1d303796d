import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PathServer, startPathServer } from '../account/path_server.js';
import { PASSWORD, RESOURCE } from '../support/account.js';
import { useChromium, usePage } from '../support/browser.js';
import { type LoopbackReceiver, startLoopbackReceiver } from '../support/mcp_agent.js';
import { pkcePair, type RegisteredClient, register } from '../support/oauth.js';

const BASE = '/auth';

describe('an issuer with a path, in a real browser', () => {
  const browser = useChromium();
  let server: PathServer;
  let receiver: LoopbackReceiver;
  let client: RegisteredClient;
  const page = usePage(browser);

  beforeAll(async () => {
    server = await startPathServer((origin) => `${origin}${BASE}`);
    receiver = await startLoopbackReceiver();
    client = await register(server.issuer, {
      client_name: 'Path Agent',
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

  async function signIn(username: string): Promise<void> {
    await page().getByLabel('Username', { exact: true }).fill(username);
    await page().getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page().getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  it('completes login → consent → code, and the account page shows the new agent', async () => {
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: receiver.redirectUrl,
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      resource: RESOURCE,
      scope: 'mcp:read',
      state: 'browser-path',
    });
    await page().goto(`${server.issuer}/authorize?${params}`);
    expect(new URL(page().url()).pathname.startsWith(`${BASE}/interaction/`)).toBe(true);
    await signIn('alice');
    await page().getByRole('button', { name: 'Allow', exact: true }).click();
    await page().waitForURL((url) => url.href.startsWith(`${receiver.redirectUrl}?`), { timeout: 10_000 });
    const back = new URL(page().url());
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(back.searchParams.get('iss')).toBe(server.issuer);

    await page().goto(`${server.issuer}/account`);
    await page().getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(new URL(page().url()).pathname).toBe(`${BASE}/account/login`);
    await signIn('alice');
    await page().waitForURL(`${server.issuer}/account`);
    expect(await page().locator('.client-name').first().textContent()).toBe('Path Agent');
    // The stylesheet came from under the path too.
    const styled = await page()
      .locator('main')
      .evaluate(
        (el) =>
          (globalThis as unknown as { getComputedStyle(e: unknown): { maxWidth: string } }).getComputedStyle(el)
            .maxWidth,
      );
    expect(styled).not.toBe('none');
  });
});
