// "Not you? Use another account" on the consent page, over HTTP, and the warning for an unverified
// agent whose redirect goes to a site unrelated to anything it claims.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unrelatedRedirect } from '../../src/interactions/consent.js';
import { PASSWORD, RESOURCE, serverWithUsers } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { CookieBrowser, csrfOf, PUBLIC_CLIENT, pkcePair, register } from '../support/oauth.js';

describe('unrelatedRedirect', () => {
  it.each([
    ['Claude', undefined, 'https://claude.ai/api/mcp/auth_callback', false],
    ['Claude', undefined, 'https://collector.example.net/cb', true],
    ['Helper', 'https://www.example.net/', 'https://app.example.net/cb', false],
    ['Helper', 'https://helper.example.org/', 'https://app.example.net/cb', true],
    ['Example Tools', undefined, 'https://app.example.co.uk/cb', false],
    // A program on the user's computer: loopback and private-use schemes are not judged.
    ['Anything', undefined, 'http://127.0.0.1:5555/callback', false],
    ['Anything', undefined, 'cursor://anysphere.cursor-mcp/oauth/callback', false],
    // No name at all and a web callback: nothing ties it to the site.
    [undefined, undefined, 'https://app.example.net/cb', true],
  ] as const)('%s (client_uri %s) → %s: %s', (name, clientUri, redirect, expected) => {
    expect(unrelatedRedirect(name, clientUri, redirect)).toBe(expected);
  });
});

describe('Use another account', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWithUsers();
  });
  afterAll(() => server.close());

  /** Signs alice in on the way to the consent page; returns the page and where it is. */
  async function atConsent() {
    const browser = new CookieBrowser();
    const client = await register(server.url, { ...PUBLIC_CLIENT, client_name: 'Switch Agent' });
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: client.redirect_uris[0] ?? '',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      resource: RESOURCE,
      scope: 'mcp:read',
      state: 'the-state',
    });
    const login = await browser.follow(await browser.get(`${server.url}/authorize?${params}`), server.url, server.url);
    const res = await browser.post(`${login.url}/login`, {
      csrf: csrfOf(await login.res.text()),
      username: 'alice',
      password: PASSWORD,
    });
    const consent = await browser.follow(res, `${login.url}/login`, server.url);
    const html = await consent.res.text();
    expect(html).toContain('name="decision"');
    return { browser, url: consent.url, html, params };
  }

  it('is offered on the consent page, naming who is signed in', async () => {
    const { url, html } = await atConsent();
    expect(html).toContain(`action="${new URL(url).pathname}/switch-account"`);
    expect(html).toContain('Not <strong>alice</strong>?');
  });

  it('needs the page CSRF token; without it nothing changes', async () => {
    const { browser, url } = await atConsent();
    const res = await browser.post(`${url}/switch-account`, { csrf: 'forged' });
    expect(res.status).toBe(403);
    const again = await browser.get(url);
    expect(await again.text()).toContain('name="decision"');
  });

  it('ends the browser session and starts the same request again at the sign-in page', async () => {
    const { browser, url, html, params } = await atConsent();
    const res = await browser.post(`${url}/switch-account`, { csrf: csrfOf(html) });
    expect(res.status).toBe(303);
    const to = new URL(res.headers.get('location') ?? '', server.url);
    expect(to.pathname).toBe('/authorize');
    for (const name of ['client_id', 'redirect_uri', 'code_challenge', 'state', 'resource', 'scope']) {
      expect(to.searchParams.get(name), name).toBe(params.get(name));
    }
    const next = await browser.follow(res, url, server.url);
    expect(await next.res.text()).toContain('name="password"');
    // The old consent step is over: it cannot be answered any more.
    const old = await browser.post(`${url}/consent`, { csrf: csrfOf(html), decision: 'allow', scope: 'mcp:read' });
    expect(old.status).toBeGreaterThanOrEqual(400);
    expect(old.status).toBeLessThan(500);
  });
});
