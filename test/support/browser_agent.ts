// The agent side of the real-browser tests (test/browser, test/i18n): an authorization server with
// alice and one named resource, a public agent registered with a loopback redirect URI (as a
// desktop agent registers), the authorization URL it opens, and the wait for the browser to come
// back to it.
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { startTestServer, type TestServer } from './app.js';
import { type LoopbackReceiver, startLoopbackReceiver } from './mcp_agent.js';
import { pkcePair, type RegisteredClient, register } from './oauth.js';

export interface BrowserAgent {
  server: TestServer;
  receiver: LoopbackReceiver;
  client: RegisteredClient;
  resource: string;
  close(): Promise<void>;
}

export async function startBrowserAgent(opts: {
  agentName: string;
  resource: string;
  resourceName: string;
  /** alice's password. */
  password: string;
}): Promise<BrowserAgent> {
  const server = await startTestServer();
  await server.addUser('alice', opts.password);
  await server.addResource(opts.resource, opts.resourceName);
  const receiver = await startLoopbackReceiver();
  const client = await register(server.url, {
    client_name: opts.agentName,
    redirect_uris: [receiver.redirectUrl],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  });
  return {
    server,
    receiver,
    client,
    resource: opts.resource,
    async close() {
      await receiver.close();
      await server.close();
    },
  };
}

export interface AuthorizationStart {
  url: string;
  state: string;
  verifier: string;
}

/** The /authorize URL the agent opens in the browser (PKCE S256, resource indicator), with its state and verifier. */
export function authorizationUrl(agent: BrowserAgent, scope = 'mcp:read mcp:write'): AuthorizationStart {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(12).toString('base64url');
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: agent.client.client_id,
    redirect_uri: agent.receiver.redirectUrl,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource: agent.resource,
    scope,
    state,
  });
  return { url: `${agent.server.url}/authorize?${params}`, state, verifier };
}

/**
 * Waits for the browser to land on the agent's loopback redirect URI and returns that URL; if it
 * never does, the error says where the browser is stuck.
 */
export async function landedAtAgent(page: Page, agent: BrowserAgent): Promise<URL> {
  try {
    await page.waitForURL((url) => url.href.startsWith(`${agent.receiver.redirectUrl}?`), { timeout: 10_000 });
  } catch (err) {
    const heading = await page
      .locator('h1')
      .first()
      .textContent()
      .catch(() => '(none)');
    const scopes = await page
      .locator('input[name=scope]')
      .evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value))
      .catch(() => []);
    throw new Error(
      `the browser never reached the agent's redirect URI; it is at ${page.url()} showing "${heading}" (scope boxes: ${scopes.join(', ') || 'none'})`,
      { cause: err },
    );
  }
  return new URL(page.url());
}
