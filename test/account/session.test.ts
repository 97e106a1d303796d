// Sign-in sessions of the account pages: one answer for every failure, cookie flags, only a hash
// stored, a fresh id at every sign-in, sign-out, expiry, disabled users, and where "next" may lead.
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { safeNext } from '../../src/web/page_session.js';
import { auditRows, PASSWORD, serverWithUsers, WebClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('account sign-in sessions (http issuer)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWithUsers({ MCP_OAUTH_SESSION_TTL: '600' });
    await server.addUser('carol', PASSWORD);
    const carol = await server.app.stores.users.findByUsername('carol');
    await server.app.stores.users.setDisabled(carol?.id ?? '', true);
  });
  afterAll(() => server.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  it('serves the sign-in page with no-store, a CSP and framing denied', async () => {
    const web = new WebClient(server.url);
    const { res, html, csrf } = await web.page('/account/login');
    expect(res.status).toBe(200);
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(html).toContain('name="password"');
  });

  it.each([
    ['a wrong password', 'alice', 'not the password at all', 'wrong_password'],
    ['an unknown user', 'nobody', PASSWORD, 'unknown_user'],
    ['a disabled user', 'carol', PASSWORD, 'disabled'],
  ])('gives one answer for %s and starts no session', async (_case, username, password, reason) => {
    const failures = (await auditRows(server, 'login.failure')).length;
    const web = new WebClient(server.url);
    const res = await web.signIn(username, password);
    expect(res.status).toBe(401);
    const html = await res.text();
    expect(html).toContain('Wrong username or password.');
    expect(web.setCookies.some((c) => c.startsWith('mcp_account='))).toBe(false);
    expect((await web.get('/account')).status).toBe(303);
    const rows = await auditRows(server, 'login.failure');
    expect(rows).toHaveLength(failures + 1);
    // The cause stays in the audit trail, never on the page; the password never anywhere.
    expect(JSON.parse(String(rows.at(-1)?.details))).toMatchObject({ reason, page: 'account' });
    expect(JSON.stringify(rows)).not.toContain(password);
  });

  it('refuses a sign-in form without its CSRF token', async () => {
    const web = new WebClient(server.url);
    await web.page('/account/login');
    const res = await web.post('/account/login', { username: 'alice', password: PASSWORD });
    expect(res.status).toBe(403);
    expect(web.cookies.has('mcp_account')).toBe(false);
  });

  it('sets an HttpOnly, SameSite=Strict, path=/ cookie and stores only its SHA-256', async () => {
    const web = new WebClient(server.url);
    const res = await web.signIn('alice');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account');
    const line = web.setCookies.find((c) => c.startsWith('mcp_account=')) ?? '';
    expect(line).toMatch(/; path=\//i);
    expect(line).toMatch(/; httponly/i);
    expect(line).toMatch(/; samesite=strict/i);
    expect(line).not.toMatch(/; secure/i);
    expect(line).not.toMatch(/; domain=/i);
    const id = web.cookies.get('mcp_account') ?? '';
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits
    const rows = (await server.sql.all('SELECT * FROM web_sessions')) as { id_hash: string; expires_at: number }[];
    expect(rows.map((r) => r.id_hash)).toContain(sha256(id));
    expect(JSON.stringify(rows)).not.toContain(id);
    const row = rows.find((r) => r.id_hash === sha256(id));
    expect(row?.expires_at).toBeGreaterThanOrEqual(epochSeconds() + 600 - 5);
    expect(row?.expires_at).toBeLessThanOrEqual(epochSeconds() + 600);
    expect((await web.get('/account')).status).toBe(200);
    expect((await auditRows(server, 'login.success')).at(-1)).toMatchObject({
      result: 'success',
      user_id: (await server.app.stores.users.findByUsername('alice'))?.id,
    });
  });

  it('issues a new session id at every sign-in and forgets the old one (no fixation)', async () => {
    const web = new WebClient(server.url);
    // A session id planted by someone else is never adopted.
    const planted = 'A'.repeat(43);
    web.cookies.set('mcp_account', planted);
    const { csrf } = await web.page('/account/login');
    const form = { csrf, username: 'alice', password: PASSWORD };
    expect((await web.post('/account/login', form)).status).toBe(303);
    const first = web.cookies.get('mcp_account') ?? '';
    expect(first).not.toBe(planted);
    // The same sign-in form submitted again (say, from another tab) while signed in.
    expect((await web.post('/account/login', form)).status).toBe(303);
    const second = web.cookies.get('mcp_account') ?? '';
    expect(second).not.toBe(first);
    const old = new WebClient(server.url);
    old.cookies.set('mcp_account', first);
    expect((await old.get('/account')).status).toBe(303);
    expect((await web.get('/account')).status).toBe(200);
  });

  it('signs out with the CSRF token only, and the cookie is dead afterwards', async () => {
    const web = new WebClient(server.url);
    await web.signIn('alice');
    const id = web.cookies.get('mcp_account') ?? '';
    expect((await web.post('/account/logout', {})).status).toBe(403);
    expect((await web.get('/account')).status).toBe(200);
    const { csrf } = await web.page('/account');
    const res = await web.post('/account/logout', { csrf });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account/login');
    expect(web.cookies.has('mcp_account')).toBe(false);
    const replay = new WebClient(server.url);
    replay.cookies.set('mcp_account', id);
    expect((await replay.get('/account')).status).toBe(303);
  });

  it('a session expires after MCP_OAUTH_SESSION_TTL', async () => {
    // The clock stands still from the sign-in on, so a slow machine cannot eat into the lifetime.
    const signedInAt = Math.floor(Date.now() / 1000) * 1000;
    vi.useFakeTimers({ toFake: ['Date'], now: signedInAt });
    const web = new WebClient(server.url);
    await web.signIn('alice');
    expect((await web.get('/account')).status).toBe(200);
    vi.setSystemTime(signedInAt + 599_000);
    expect((await web.get('/account')).status).toBe(200);
    vi.setSystemTime(signedInAt + 601_000);
    const res = await web.get('/account');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account/login?next=%2Faccount');
  });

  it('a user disabled while signed in has no session any more', async () => {
    await server.addUser('dave', PASSWORD);
    const web = new WebClient(server.url);
    await web.signIn('dave');
    expect((await web.get('/account')).status).toBe(200);
    const dave = await server.app.stores.users.findByUsername('dave');
    await server.app.stores.users.setDisabled(dave?.id ?? '', true);
    expect((await web.get('/account')).status).toBe(303);
  });

  it('sends a visitor without a session to sign in, and back to a local page only', async () => {
    const web = new WebClient(server.url);
    const res = await web.get('/account');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account/login?next=%2Faccount');
    const { html } = await web.page('/account/login?next=https%3A%2F%2Fevil.example%2F');
    expect(html).toContain('name="next" value="/account"');
    const signedIn = await web.signIn('root', PASSWORD, '//evil.example/admin');
    expect(signedIn.headers.get('location')).toBe('/account');
    // Already signed in: the sign-in page goes straight on, to a local page only.
    const again = await web.get('/account/login?next=%2F%2Fevil.example');
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe('/account');
    const toAdmin = await new WebClient(server.url).signIn('root', PASSWORD, '/admin?user=alice');
    expect(toAdmin.headers.get('location')).toBe('/admin?user=alice');
  });

  it.each([
    ['/admin', '/admin'],
    ['/admin/agents?x=1', '/admin/agents?x=1'],
    ['/account', '/account'],
    ['//evil.example', '/account'],
    ['/\\evil.example', '/account'],
    ['https://evil.example/admin', '/account'],
    ['/account/../authorize', '/account'],
    ['/admin/%2e%2e/token', '/account'],
    ['/adminx', '/account'],
    ['/interaction/abc', '/account'],
    ['/admin\nSet-Cookie: x', '/account'],
    ['javascript:alert(1)', '/account'],
    ['', '/account'],
    [['/admin', '/admin'], '/account'],
  ])('safeNext(%j) is %s', (input, expected) => {
    expect(safeNext(input)).toBe(expected);
  });
});

describe('account sign-in sessions (https issuer behind a proxy)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWithUsers({ MCP_OAUTH_ISSUER: 'https://auth.example.test', MCP_OAUTH_TRUST_PROXY: 'true' });
  });
  afterAll(() => server.close());

  it('names the cookie __Host-mcp_account and marks it Secure', async () => {
    const web = new WebClient(server.url, { 'x-forwarded-proto': 'https' });
    const res = await web.signIn('alice');
    expect(res.status).toBe(303);
    const line = web.setCookies.find((c) => c.startsWith('__Host-mcp_account=')) ?? '';
    expect(line).toMatch(/; secure/i);
    expect(line).toMatch(/; httponly/i);
    expect(line).toMatch(/; samesite=strict/i);
    expect(line).toMatch(/; path=\//i);
    expect(line).not.toMatch(/; domain=/i);
    expect(web.setCookies.some((c) => c.startsWith('mcp_account='))).toBe(false);
    expect((await web.get('/account')).status).toBe(200);
  });
});
