// The sign-in pages with identity providers configured, over HTTP: the buttons, password sign-in
// turned off, refusals before any provider is asked, and the standing check an agent's refresh
// runs (fail closed when the provider cannot confirm the user).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { createLogger } from '../../src/log/logger.js';
import { createUpstream } from '../../src/provider/upstream.js';
import { NO_PASSWORD } from '../../src/web/sso.js';
import { auditRows, PASSWORD, RESOURCE, RESOURCE_NAME } from '../support/account.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { CookieBrowser, csrfOf, PUBLIC_CLIENT, pkcePair, register } from '../support/oauth.js';

describe('sign-in pages with identity providers', () => {
  let server: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-sso-pages-'));
    const idps = path.join(dir, 'idps.json');
    // Nothing listens on the discard port: the provider cannot be reached.
    writeFileSync(
      idps,
      JSON.stringify([
        {
          name: 'acme',
          display_name: 'Acme SSO',
          issuer: 'http://127.0.0.1:9',
          client_id: 'mcp',
          allowed_groups: ['staff'],
        },
      ]),
    );
    server = await startTestServer({ MCP_OAUTH_IDPS_FILE: idps, MCP_OAUTH_PASSWORD_LOGIN: 'off' });
    await server.addResource(RESOURCE, RESOURCE_NAME);
    await server.addUser('alice', PASSWORD);
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function loginPage(browser: CookieBrowser): Promise<{ url: string; html: string }> {
    const client = await register(server.url, PUBLIC_CLIENT);
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: PUBLIC_CLIENT.redirect_uris[0] ?? '',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      resource: RESOURCE,
    });
    const step = await browser.follow(
      await browser.get(`${server.url}/authorize?${params}`),
      `${server.url}/authorize`,
      server.url,
    );
    return { url: step.url, html: await step.res.text() };
  }

  it('offers only the provider when password sign-in is off, and refuses a password posted anyway', async () => {
    const browser = new CookieBrowser();
    const { url, html } = await loginPage(browser);
    expect(html).not.toContain('name="password"');
    expect(html).toContain('Sign in with Acme SSO');
    expect(html).toContain(`action="${new URL(url).pathname}/sso/acme"`);
    const res = await browser.post(`${url}/login`, { csrf: csrfOf(html), username: 'alice', password: PASSWORD });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Password sign-in is turned off here.');
    expect(await auditRows(server, 'login.success')).toEqual([]);

    const account = await browser.get(`${server.url}/account/login`);
    const page = await account.text();
    expect(page).not.toContain('name="password"');
    expect(page).toContain('action="/account/sso/acme"');
    const posted = await browser.post(`${server.url}/account/login`, {
      csrf: csrfOf(page),
      username: 'alice',
      password: PASSWORD,
    });
    expect(posted.status).toBe(403);
  });

  it.each([
    ['ja', 'Acme SSO でサインイン', 'ここではパスワードでのサインインは無効です。'],
    ['ko', 'Acme SSO(으)로 로그인', '여기에서는 비밀번호 로그인이 꺼져 있습니다.'],
  ])('speaks %s on the sign-in page', async (lang, button, refusal) => {
    const browser = new CookieBrowser();
    const page = await (await browser.get(`${server.url}/account/login?lang=${lang}`)).text();
    expect(page).toContain(button);
    const posted = await browser.post(`${server.url}/account/login?lang=${lang}`, {
      csrf: csrfOf(page),
      username: 'alice',
      password: PASSWORD,
    });
    expect(await posted.text()).toContain(refusal);
  });

  it('refuses an unknown provider, a start without the CSRF token, and an unreachable provider', async () => {
    const browser = new CookieBrowser();
    const { url, html } = await loginPage(browser);
    expect((await browser.post(`${url}/sso/nope`, { csrf: csrfOf(html) })).status).toBe(404);
    expect((await browser.post(`${url}/sso/acme`, { csrf: 'forged' })).status).toBe(403);
    const down = await browser.post(`${url}/sso/acme`, { csrf: csrfOf(html) });
    expect(down.status).toBe(503);
    expect(await down.text()).toContain('The identity provider could not be reached.');
  });

  it('refuses a callback this browser did not start (login CSRF), changing nothing', async () => {
    const users = (await server.app.stores.users.list()).length;
    const res = await new CookieBrowser().get(`${server.url}/sso/callback?code=stolen&state=abc&iss=x`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('This sign-in expired or was started in another browser.');
    expect((await server.app.stores.users.list()).length).toBe(users);
    expect(JSON.parse(String((await auditRows(server, 'login.failure')).at(-1)?.details))).toMatchObject({
      reason: 'expired',
    });
  });

  it('trusts a recent confirmation, and fails closed when the provider cannot confirm the user again', async () => {
    const { stores, config } = { stores: server.app.stores, config: server.config };
    const events: { event: string; details?: Record<string, unknown> }[] = [];
    const upstream = createUpstream({
      config,
      identities: stores.identities,
      users: stores.users,
      audit: {
        record: async (e) => {
          events.push(e);
        },
      },
      log: createLogger('silent'),
    });
    const local = await server.addUser('local-only', PASSWORD);
    expect(await upstream.inGoodStanding(local.id)).toBe(true);

    const sso = await stores.users.create('sso-user@acme.test', NO_PASSWORD, false);
    const link = { issuer: 'http://127.0.0.1:9', provider: 'acme', userId: sso.id, email: null };
    await stores.identities.link({ ...link, subject: 'u1', refreshToken: 'upstream-refresh' }, epochSeconds());
    expect(await upstream.inGoodStanding(sso.id)).toBe(true);
    expect(events).toEqual([]);

    // Confirmed longer ago than the interval: the provider is asked, cannot answer, and the user fails.
    await server.sql.run('UPDATE user_identities SET checked_at = ? WHERE user_id = ?', [
      epochSeconds() - 7200,
      sso.id,
    ]);
    expect(await upstream.inGoodStanding(sso.id)).toBe(false);
    expect(events.at(-1)).toMatchObject({ event: 'user.upstream_check_failed' });
    expect(String(events.at(-1)?.details?.reason)).toMatch(/^refresh_failed/);

    const other = await stores.users.create('sso-two@acme.test', NO_PASSWORD, false);
    await stores.identities.link(
      { ...link, userId: other.id, subject: 'u2', refreshToken: null },
      epochSeconds() - 7200,
    );
    expect(await upstream.inGoodStanding(other.id)).toBe(false);
    expect(events.at(-1)?.details).toMatchObject({ reason: 'no_refresh_token' });

    const gone = await stores.users.create('sso-three@acme.test', NO_PASSWORD, false);
    await stores.identities.link(
      {
        ...link,
        issuer: 'https://removed.example',
        provider: 'removed',
        userId: gone.id,
        subject: 'u3',
        refreshToken: 'x',
      },
      epochSeconds() - 7200,
    );
    expect(await upstream.inGoodStanding(gone.id)).toBe(false);
    expect(events.at(-1)?.details).toMatchObject({ reason: 'provider_not_configured' });
  });
});
