// A new password, or disabling and enabling a user, ends every browser session of theirs on every
// path (CLI, console, admin API): the cookie of a session signed in before the change leads to the
// sign-in form at /authorize (not to consent, where it would get a code with mcp:write), and to the
// sign-in page at /account and /admin.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { PASSWORD, RESOURCE, serverWithUsers, signedInClient, type WebClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { cliFor } from '../support/cli.js';
import { authorize, CookieBrowser, csrfOf, PUBLIC_CLIENT, type RegisteredClient, register } from '../support/oauth.js';

describe('sessions end when a user changes standing', () => {
  let server: TestServer;
  let client: RegisteredClient;
  let adminToken: string;
  beforeAll(async () => {
    server = await serverWithUsers();
    client = await register(server.url, PUBLIC_CLIENT);
    adminToken = (await server.app.stores.adminTokens.create('tests', null, epochSeconds())).token;
  });
  afterAll(() => server.close());

  const userId = async (name: string) => (await server.app.stores.users.findByUsername(name))?.id ?? '';

  /** Starts an authorization with the browser's cookies; the page it lands on, and where. */
  async function openAuthorize(browser: CookieBrowser): Promise<{ url: string; html: string }> {
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: client.redirect_uris[0] ?? '',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      scope: 'mcp:read mcp:write',
      resource: RESOURCE,
      state: 'x',
    });
    const start = `${server.url}/authorize?${params}`;
    const { res, url } = await browser.follow(await browser.get(start), start, server.url);
    expect(res.status).toBe(200);
    return { url, html: await res.text() };
  }

  /** What the browser's cookie gets at /authorize: the sign-in form, or consent straight away. */
  async function authorizeLandsOn(browser: CookieBrowser): Promise<'login' | 'consent'> {
    const { html } = await openAuthorize(browser);
    if (html.includes('name="password"')) return 'login';
    expect(html).toContain('value="mcp:write"');
    return 'consent';
  }

  /** A browser that signed in at /authorize through the real login form, and /account and /admin pages signed in. */
  async function signedInEverywhere(username: string) {
    const browser = new CookieBrowser();
    await authorize(server.url, { client, username, password: PASSWORD, resource: RESOURCE, browser });
    expect(await authorizeLandsOn(browser)).toBe('consent');
    const pages = await signedInClient(server, username);
    expect((await pages.get('/account')).status).toBe(200);
    return { browser, pages };
  }

  async function expectSignedOut(s: { browser: CookieBrowser; pages: WebClient }, page = '/account') {
    expect(await authorizeLandsOn(s.browser)).toBe('login');
    const res = await s.pages.get(page);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/account\/login/);
  }

  const cli = (argv: string[], stdin?: string) => cliFor(server.dataDir).run(argv, stdin ? { stdin } : {});
  const api = (path: string) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });

  it('mcp-oauth users passwd', async () => {
    const s = await signedInEverywhere('alice');
    const other = await signedInEverywhere('bob');
    expect((await cli(['users', 'passwd', 'alice'], `${PASSWORD}\n`)).code).toBe(0);
    await expectSignedOut(s);
    // Only that user's sessions.
    expect(await authorizeLandsOn(other.browser)).toBe('consent');
    expect((await other.pages.get('/account')).status).toBe(200);
  });

  it('mcp-oauth users disable, then enable', async () => {
    const s = await signedInEverywhere('alice');
    expect((await cli(['users', 'disable', 'alice'])).code).toBe(0);
    expect((await cli(['users', 'enable', 'alice'])).code).toBe(0);
    await expectSignedOut(s);
  });

  it('the admin API: disable, then enable', async () => {
    const s = await signedInEverywhere('alice');
    expect((await api('/admin/api/users/alice/disable')).status).toBe(200);
    expect((await api('/admin/api/users/alice/enable')).status).toBe(200);
    await expectSignedOut(s);
  });

  it('the console: disable, then enable (an admin signed in on another browser is signed out too)', async () => {
    await server.addUser('ada', PASSWORD, { admin: true });
    const s = await signedInEverywhere('ada');
    const root = await signedInClient(server, 'root');
    const { csrf } = await root.page('/admin/users');
    expect((await root.post(`/admin/users/${await userId('ada')}/disable`, { csrf })).status).toBe(303);
    expect((await root.post(`/admin/users/${await userId('ada')}/enable`, { csrf })).status).toBe(303);
    await expectSignedOut(s, '/admin');
    // The admin who acted keeps their session.
    expect((await root.get('/admin/users')).status).toBe(200);
  });

  it('a consent page opened before the change cannot be submitted after it', async () => {
    const s = await signedInEverywhere('alice');
    const consent = await openAuthorize(s.browser);
    expect(consent.html).toContain('value="mcp:write"');
    expect((await cli(['users', 'passwd', 'alice'], `${PASSWORD}\n`)).code).toBe(0);
    const posted = await s.browser.post(`${consent.url}/consent`, {
      csrf: csrfOf(consent.html),
      decision: 'allow',
      scope: ['mcp:read', 'mcp:write'],
    });
    const end = await s.browser.follow(posted, `${consent.url}/consent`, server.url);
    // No code for the agent: the flow stops on this server (an error page or the sign-in form).
    expect(new URL(end.url).origin).toBe(server.url);
    expect(new URL(end.url).searchParams.get('code')).toBeNull();
  });

  it('the audit trail says how many sessions ended', async () => {
    await server.addUser('carl', PASSWORD);
    await signedInEverywhere('carl');
    expect((await cli(['users', 'passwd', 'carl'], `${PASSWORD}\n`)).code).toBe(0);
    const row = (await server.sql.get(
      "SELECT details FROM audit_events WHERE event = 'user.password_changed' ORDER BY id DESC LIMIT 1",
    )) as { details: string };
    // The /authorize session and the /account page session.
    expect(JSON.parse(row.details)).toEqual({ by: 'cli', sessions_ended: 2 });
  });
});
