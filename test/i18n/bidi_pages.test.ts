// Bidirectional text on the pages: a name holding right-to-left text must stay inside its own
// isolate (<bdi>) on every page that shows it, so it can neither reorder our own words around it nor
// pose as our "verified" badge. Names are written straight into the stored registration. A stored
// agent name with a format character (U+202E) never reaches the sign-in page at all: the client no
// longer loads (fail closed); pages that list stored names without loading the client isolate it.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, RESOURCE, serverWithUsers, signedInClient, type WebClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import {
  authorize,
  CookieBrowser,
  csrfOf,
  PUBLIC_CLIENT,
  pkcePair,
  type RegisteredClient,
  redeem,
  register,
} from '../support/oauth.js';
import { renameStoredClient, SPOOF } from './bidi.js';

/** Right-to-left letters: valid in a name, and still text the page must isolate. */
const RTL = 'Claude Desktop \u05d0\u05d1\u05d2 :deifirev';

const escaped = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Every occurrence of the name in the page's text sits directly inside a <bdi> element. Attribute
 * values (an aria-label) are dropped first: they are not laid out as text.
 */
function expectIsolated(page: string, name = SPOOF): void {
  const html = page.replace(/<(\/?[a-z0-9]+)[^>]*>/g, '<$1>');
  const text = escaped(name);
  const at = [...html.matchAll(new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g'))].map((m) => m.index);
  expect(at.length, 'the name is on the page').toBeGreaterThan(0);
  for (const i of at) {
    expect(html.slice(i - 5, i)).toBe('<bdi>');
    expect(html.slice(i + text.length, i + text.length + 6)).toBe('</bdi>');
  }
}

describe('names with bidirectional format characters on every page', () => {
  let server: TestServer;
  let client: RegisteredClient;
  let root: WebClient;

  beforeAll(async () => {
    server = await serverWithUsers();
    client = await register(server.url, { ...PUBLIC_CLIENT, client_name: 'Plain Agent' });
    await renameStoredClient(server, client.client_id, RTL);
    root = await signedInClient(server, 'root');
  });
  afterAll(() => server.close());

  it('isolates the name on the login and consent pages', async () => {
    const browser = new CookieBrowser();
    const { challenge } = pkcePair();
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: client.redirect_uris[0] ?? '',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: randomBytes(8).toString('hex'),
      resource: RESOURCE,
      scope: 'mcp:read',
    });
    const start = await browser.follow(
      await browser.get(`${server.url}/authorize?${params}`),
      `${server.url}/authorize`,
      server.url,
    );
    const login = await start.res.text();
    expect(login).toContain('name="password"');
    expectIsolated(login, RTL);

    const res = await browser.post(`${start.url}/login`, {
      csrf: csrfOf(login),
      username: 'alice',
      password: PASSWORD,
    });
    const consent = await browser.follow(res, `${start.url}/login`, server.url);
    const html = await consent.res.text();
    expect(html).toContain('name="decision"');
    expectIsolated(html, RTL);
    // Our own words before and after the name are outside the isolate.
    expect(html).toMatch(/<strong class="client-name"><bdi>[^<]+<\/bdi><\/strong>/);
  });

  it('isolates the name on the account page, the admin grants, agents and audit pages', async () => {
    const got = await authorize(server.url, { client, username: 'alice', password: PASSWORD, resource: RESOURCE });
    expect((await redeem(server.url, client, got)).status).toBe(200);

    // Renamed after the grant, as a name stored before format characters were refused.
    await renameStoredClient(server, client.client_id, SPOOF);
    const alice = await signedInClient(server, 'alice');
    expectIsolated((await alice.page('/account')).html);
    expectIsolated((await root.page('/admin')).html);
    expectIsolated((await root.page('/admin/agents')).html);
    expectIsolated((await root.page('/admin/audit')).html);
  });

  it('never shows a stored agent name with a format character at sign-in: the agent does not load', async () => {
    const spoofed = await register(server.url, { ...PUBLIC_CLIENT, client_name: 'Plain Agent' });
    await renameStoredClient(server, spoofed.client_id, SPOOF);
    const { challenge } = pkcePair();
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: spoofed.client_id,
      redirect_uri: spoofed.redirect_uris[0] ?? '',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      resource: RESOURCE,
    });
    const res = await fetch(`${server.url}/authorize?${params}`, {
      headers: { accept: 'text/html' },
      redirect: 'manual',
    });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('invalid_client_metadata');
    expect(html).not.toContain(SPOOF);
  });

  it('isolates a resource name in the filter list with isolate marks (an <option> holds no elements)', async () => {
    const name = 'Orders \u202e BD';
    await server.addResource('https://spoof.example.com/mcp', name);
    const html = (await root.page('/admin')).html;
    expect(html).toContain(`>\u2068${name}\u2069 (https://spoof.example.com/mcp)</option>`);
  });

  it('puts the message of an error page in a paragraph of its own', async () => {
    // A block ends every embedding and override begun inside it (UAX #9 BD7, X8), so a message
    // quoting what the caller sent cannot reorder the page around it.
    const account = await root.post('/admin/users/nobody/enable', { csrf: 'x' });
    expect(account.status).toBe(403);
    expect(await account.text()).toMatch(/<p class="error" role="alert">[^<]+<\/p>/);
    const provider = await fetch(`${server.url}/authorize?client_id=nobody`, { headers: { accept: 'text/html' } });
    expect(provider.status).toBe(400);
    expect(await provider.text()).toMatch(/<p class="error" role="alert">[^<]+<\/p>/);
  });
});
