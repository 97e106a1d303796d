// An issuer with a path (http://127.0.0.1:PORT/auth), as a reverse proxy publishes the server under
// a prefix: the OAuth flow (login → consent → code → token), the metadata at both well-known URLs,
// and the account and admin pages all stay under the path: links, form actions, redirects and
// cookie paths. Nothing else is served outside it but the probes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app/app.js';
import { PASSWORD, RESOURCE, WebClient } from '../support/account.js';
import { CookieBrowser, csrfOf, PUBLIC_CLIENT, pkcePair, register, tokenRequest } from '../support/oauth.js';
import { type PathServer, startPathServer } from './path_server.js';

const BASE = '/auth';

describe('an issuer with a path', () => {
  let server: PathServer;
  let app: App;
  let origin: string;
  let issuer: string;

  beforeAll(async () => {
    server = await startPathServer((o) => `${o}${BASE}`);
    ({ app, origin, issuer } = server);
  });
  afterAll(() => server.close());

  /** Every root-relative href, src and form action of a page. */
  const localUrls = (html: string) =>
    [...html.matchAll(/(?:href|src|action)="(\/[^"]*)"/g)].map((m) => (m[1] ?? '').replace(/&amp;/g, '&'));

  function expectUnderBase(html: string): void {
    const urls = localUrls(html);
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) expect(url.startsWith(`${BASE}/`), url).toBe(true);
  }

  const cookiePaths = (res: Response) =>
    res.headers.getSetCookie().map((line) => [line.split('=')[0], /;\s*path=([^;]*)/i.exec(line)?.[1]] as const);

  it('publishes metadata under the path and at the RFC 8414 path-inserted URL', async () => {
    for (const url of [
      `${issuer}/.well-known/openid-configuration`,
      `${issuer}/.well-known/oauth-authorization-server`,
      `${origin}/.well-known/oauth-authorization-server${BASE}`,
    ]) {
      const res = await fetch(url);
      expect(res.status, url).toBe(200);
      const doc = (await res.json()) as Record<string, string>;
      expect(doc.issuer).toBe(issuer);
      expect(doc.authorization_endpoint).toBe(`${issuer}/authorize`);
      expect(doc.token_endpoint).toBe(`${issuer}/token`);
      expect(doc.introspection_endpoint).toBe(`${issuer}/introspect`);
    }
    expect((await fetch(`${origin}/.well-known/openid-configuration`)).status).toBe(404);
    expect((await fetch(`${origin}/account/login`)).status).toBe(404);
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
  });

  it('runs login → consent → code → token with every step under the path', async () => {
    const client = await register(issuer, { ...PUBLIC_CLIENT, client_name: 'Path Agent' });
    const browser = new CookieBrowser();
    const { verifier, challenge } = pkcePair();
    const redirectUri = client.redirect_uris[0] ?? '';
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: redirectUri,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'path-state',
      resource: RESOURCE,
      scope: 'mcp:read',
    });
    const started = await browser.get(`${issuer}/authorize?${params}`);
    expect(started.status).toBe(303);
    const interaction = new URL(started.headers.get('location') ?? '', issuer);
    expect(interaction.pathname.startsWith(`${BASE}/interaction/`)).toBe(true);
    expect(cookiePaths(started)).toContainEqual(['_interaction', interaction.pathname]);

    const login = await browser.get(interaction.href);
    expect(login.status).toBe(200);
    const loginHtml = await login.text();
    expectUnderBase(loginHtml);
    expect(loginHtml).toContain(`action="${interaction.pathname}/login"`);
    expect(cookiePaths(login)).toContainEqual(['mcp_csrf', BASE]);

    const signedIn = await browser.post(`${interaction.href}/login`, {
      csrf: csrfOf(loginHtml),
      username: 'alice',
      password: PASSWORD,
    });
    expect(signedIn.status).toBe(303);
    const consent = await browser.follow(signedIn, `${interaction.href}/login`, origin);
    expect(new URL(consent.url).pathname.startsWith(`${BASE}/interaction/`)).toBe(true);
    const consentHtml = await consent.res.text();
    expect(consentHtml).toContain('name="decision"');
    expectUnderBase(consentHtml);
    expect(consentHtml).toContain(`${issuer}/account`);

    const allowed = await browser.post(`${consent.url}/consent`, {
      csrf: csrfOf(consentHtml),
      decision: 'allow',
      scope: 'mcp:read',
    });
    const back = await browser.follow(allowed, `${consent.url}/consent`, origin);
    const landed = new URL(back.url);
    expect(`${landed.origin}${landed.pathname}`).toBe(redirectUri);
    expect(landed.searchParams.get('iss')).toBe(issuer);
    expect(landed.searchParams.get('state')).toBe('path-state');
    const token = await tokenRequest(issuer, {
      grant_type: 'authorization_code',
      code: landed.searchParams.get('code') ?? '',
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: client.client_id,
      resource: RESOURCE,
    });
    expect(token.status).toBe(200);
  });

  it('keeps the account and admin pages, their redirects and cookies under the path', async () => {
    const web = new WebClient(origin);
    const away = await web.get(`${BASE}/account`);
    expect(away.status).toBe(303);
    expect(away.headers.get('location')).toBe(`${BASE}/account/login?next=%2Faccount`);

    const login = await web.page(`${BASE}/account/login?next=%2Fadmin&lang=en`);
    expect(cookiePaths(login.res)).toContainEqual(['mcp_lang', BASE]);
    expectUnderBase(login.html);
    expect(login.html).toContain(`href="${BASE}/static/app.css"`);
    expect((await fetch(`${issuer}/static/app.css`)).headers.get('content-type')).toContain('text/css');
    const signed = await web.post(`${BASE}/account/login`, {
      csrf: login.csrf,
      username: 'root',
      password: PASSWORD,
      next: '/admin',
    });
    expect(signed.status).toBe(303);
    expect(signed.headers.get('location')).toBe(`${BASE}/admin`);
    expect(cookiePaths(signed)).toContainEqual(['mcp_account', BASE]);

    for (const page of ['/admin', '/admin/agents', '/admin/users', '/admin/audit', '/account']) {
      const got = await web.page(`${BASE}${page}`);
      expect(got.res.status, page).toBe(200);
      expectUnderBase(got.html);
    }
    const grant = (await app.stores.grantRecords.list({ state: 'active' }))[0];
    expect(grant).toBeDefined();
    const admin = await web.page(`${BASE}/admin`);
    expect(admin.html).toContain(`action="${BASE}/admin/grants/${grant?.id}/revoke"`);
    const revoked = await web.post(`${BASE}/admin/grants/${grant?.id}/revoke`, { csrf: admin.csrf, back: '/admin' });
    expect(revoked.status).toBe(303);
    expect(revoked.headers.get('location')).toBe(`${BASE}/admin?notice=grant-revoked`);

    const { csrf } = await web.page(`${BASE}/account`);
    const out = await web.post(`${BASE}/account/logout`, { csrf });
    expect(out.headers.get('location')).toBe(`${BASE}/account/login`);
  });

  it('over https, names the cookies __Secure- (not __Host-, which requires Path=/) and scopes them to the path', async () => {
    const https = await startPathServer(() => `https://auth.example.test${BASE}`, { MCP_OAUTH_TRUST_PROXY: 'true' });
    try {
      const web = new WebClient(https.origin, {
        host: 'auth.example.test',
        'x-forwarded-proto': 'https',
      });
      const login = await web.page(`${BASE}/account/login`);
      expect(login.res.status).toBe(200);
      const csrfCookie = login.res.headers.getSetCookie().find((c) => c.startsWith('__Secure-mcp_csrf='));
      expect(csrfCookie).toMatch(/; path=\/auth;/i);
      expect(csrfCookie).toMatch(/; secure/i);
      const signed = await web.post(`${BASE}/account/login`, {
        csrf: login.csrf,
        username: 'alice',
        password: PASSWORD,
        next: '',
      });
      expect(signed.status).toBe(303);
      expect(signed.headers.get('location')).toBe(`${BASE}/account`);
      const session = signed.headers.getSetCookie().find((c) => c.startsWith('__Secure-mcp_account='));
      expect(session).toMatch(/; path=\/auth;/i);
      expect(signed.headers.getSetCookie().some((c) => c.startsWith('__Host-'))).toBe(false);
      expect((await web.get(`${BASE}/account`)).status).toBe(200);
    } finally {
      await https.close();
    }
  });
});
