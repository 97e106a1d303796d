// Log secrecy (docs/design.md#secrets-are-never-logged-echoed-or-taken-on-a-command-line): the
// whole story — registration, sign-in, consent, code, token, refresh, introspection, revocation,
// the admin API with an admin token, the account pages — runs with the logger at its most verbose
// level (trace) and every console call captured; then every secret the story handled is searched
// for in that output, and in the error responses the server sent.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { createLogger } from '../../src/log/logger.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { CookieBrowser, csrfOf, pkcePair, type RegisteredClient, register } from '../support/oauth.js';
import { authorizeParams } from '../support/security.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const PASSWORD = 'correct horse battery staple';
const WRONG_PASSWORD = 'wrong horse battery staple';
const WRONG_SECRET = 'not-the-client-secret-but-close-0123456789';

/** A re-rendered sign-in form carries its own CSRF token by design; everything else on it is checked. */
const withoutFormToken = (html: string) => html.replace(/name="csrf" value="[^"]*"/g, '');

const jarOf = (browser: CookieBrowser) => (browser as unknown as { jar: Map<string, string> }).jar;

describe('no secret reaches the logs or an error response', () => {
  let server: TestServer;
  const output: string[] = [];
  const errorBodies: string[] = [];
  /** name → value of every secret that crossed the wire. */
  const secrets = new Map<string, string>([
    ['password', PASSWORD],
    ['wrong password', WRONG_PASSWORD],
    ['wrong client secret', WRONG_SECRET],
  ]);
  const keep = (name: string, value: unknown) => {
    expect(typeof value, name).toBe('string');
    expect((value as string).length, name).toBeGreaterThanOrEqual(8);
    secrets.set(name, value as string);
  };

  beforeAll(async () => {
    for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        output.push(
          args
            .map((a) => (typeof a === 'string' ? a : JSON.stringify(a, Object.getOwnPropertyNames(a ?? {}))))
            .join(' '),
        );
      });
    }
    const logger = createLogger('trace', { write: (line: string) => void output.push(line) });
    server = await startTestServer({}, { logger });
    await server.addUser('alice', PASSWORD);
    await server.addUser('root', PASSWORD, { admin: true });
    await server.addResource(RESOURCE, 'Orders DB');
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await server.close();
  });

  async function send(path: string, init: RequestInit & { headers?: Record<string, string> }) {
    const res = await fetch(`${server.url}${path}`, { redirect: 'manual', ...init });
    const text = await res.text();
    if (res.status >= 400) errorBodies.push(`${path} ${res.status} ${text}`);
    return { status: res.status, text, json: () => JSON.parse(text) as Record<string, string> };
  }
  const form = (fields: Record<string, string>, auth?: string) => ({
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(auth ? { authorization: auth } : {}),
    },
    body: new URLSearchParams(fields),
  });
  const basic = (id: string, secret: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

  it('runs the full flow at trace level', async () => {
    // Registration: a confidential agent, with its registration access token used once.
    const client: RegisteredClient = await register(server.url, {
      client_name: 'Secretive Agent',
      redirect_uris: ['http://127.0.0.1:33418/callback'],
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    });
    keep('client secret', client.client_secret);
    keep('registration access token', client.registration_access_token);
    const read = await send(`/register/${encodeURIComponent(client.client_id)}`, {
      headers: { authorization: `Bearer ${client.registration_access_token}` },
    });
    expect(read.status).toBe(200);
    const auth = basic(client.client_id, client.client_secret ?? '');

    // The user's browser: authorize → a failed and a good sign-in → consent → code.
    const browser = new CookieBrowser();
    const { verifier, challenge } = pkcePair();
    keep('code verifier', verifier);
    const params = authorizeParams(client, {
      code_challenge: challenge,
      state: 'state-1234',
      resource: RESOURCE,
      scope: 'mcp:read mcp:write',
    });
    let step = await browser.follow(
      await browser.get(`${server.url}/authorize?${params}`),
      `${server.url}/authorize`,
      server.url,
    );
    let html = await step.res.text();
    keep('login csrf', csrfOf(html));
    const failed = await browser.post(`${step.url}/login`, {
      csrf: csrfOf(html),
      username: 'alice',
      password: WRONG_PASSWORD,
    });
    expect(failed.status).toBe(401);
    errorBodies.push(withoutFormToken(await failed.text()));
    const loggedIn = await browser.post(`${step.url}/login`, {
      csrf: csrfOf(html),
      username: 'alice',
      password: PASSWORD,
    });
    expect(loggedIn.status).toBe(303);
    step = await browser.follow(loggedIn, `${step.url}/login`, server.url);
    html = await step.res.text();
    keep('consent csrf', csrfOf(html));
    const consented = await browser.post(`${step.url}/consent`, {
      csrf: csrfOf(html),
      decision: 'allow',
      scope: ['mcp:read', 'mcp:write'],
    });
    expect(consented.status).toBe(303);
    const back = await browser.follow(consented, `${step.url}/consent`, server.url);
    const code = new URL(back.url).searchParams.get('code');
    keep('authorization code', code);
    for (const [name, value] of jarOf(browser)) {
      // The interaction cookies hold the interaction id, which is in the page URL by design; their
      // signatures and every other cookie are secrets.
      if (name === '_interaction' || name === '_interaction_resume') continue;
      keep(`cookie ${name}`, value);
    }

    // Tokens: code → tokens, a refresh, a wrong client secret, introspection, revocation.
    const redeemCode = (extra: Record<string, string> = {}) =>
      send(
        '/token',
        form(
          {
            grant_type: 'authorization_code',
            code: code ?? '',
            redirect_uri: client.redirect_uris[0] ?? '',
            code_verifier: verifier,
            ...extra,
          },
          auth,
        ),
      );
    const refresh = (token: string | undefined, clientAuth = auth) =>
      send('/token', form({ grant_type: 'refresh_token', refresh_token: token ?? '' }, clientAuth));
    const issued = await redeemCode({ resource: RESOURCE });
    expect(issued.status).toBe(200);
    keep('access token', issued.json().access_token);
    keep('refresh token', issued.json().refresh_token);
    const refreshed = await refresh(issued.json().refresh_token);
    expect(refreshed.status).toBe(200);
    keep('refreshed access token', refreshed.json().access_token);
    keep('refreshed refresh token', refreshed.json().refresh_token);
    const badSecret = await refresh(refreshed.json().refresh_token, basic(client.client_id, WRONG_SECRET));
    expect(badSecret.status).toBe(401);

    const resourceId = (await server.app.stores.resources.findByUri(RESOURCE))?.id ?? -1;
    const credential = await server.app.stores.credentials.create(resourceId, { replace: true });
    keep('resource credential secret', credential.secret);
    const rsAuth = basic(credential.id, credential.secret);
    const introspected = await send('/introspect', form({ token: refreshed.json().access_token ?? '' }, rsAuth));
    expect(introspected.status).toBe(200);
    expect(introspected.json().active).toBe(true);
    const badRs = await send(
      '/introspect',
      form({ token: refreshed.json().access_token ?? '' }, basic(credential.id, WRONG_SECRET)),
    );
    expect(badRs.status).toBe(401);
    const feed = await send('/revocations?after=0', { headers: { authorization: rsAuth } });
    expect(feed.status).toBe(200);

    const revoked = await send(
      '/revoke',
      form({ token: refreshed.json().refresh_token ?? '', token_type_hint: 'refresh_token' }, auth),
    );
    expect(revoked.status).toBe(200);
    const afterRevoke = await refresh(refreshed.json().refresh_token);
    expect(afterRevoke.status).toBe(400);
    // A replayed code (which also revokes the grant, so it comes last).
    const replayedCode = await redeemCode();
    expect(replayedCode.status).toBe(400);

    // The admin API with an admin token, and with a wrong one.
    const admin = await server.app.stores.adminTokens.create('log test', null, epochSeconds());
    keep('admin token', admin.token);
    expect((await send('/admin/api/grants', { headers: { authorization: `Bearer ${admin.token}` } })).status).toBe(200);
    expect((await send('/admin/api/clients', { headers: { authorization: `Bearer ${admin.token}` } })).status).toBe(
      200,
    );
    const badAdmin = await send('/admin/api/grants', {
      headers: { authorization: `Bearer ${admin.token.slice(0, -4)}abcd` },
    });
    expect(badAdmin.status).toBe(401);

    // The account pages: sign in (once wrong), look at the connected agents.
    const account = new CookieBrowser();
    const page = await account.get(`${server.url}/account/login`);
    const accountCsrf = csrfOf(await page.text());
    keep('account login csrf', accountCsrf);
    const accountLogin = (password: string) =>
      account.post(`${server.url}/account/login`, { csrf: accountCsrf, username: 'root', password, next: '/account' });
    const wrong = await accountLogin(WRONG_PASSWORD);
    expect(wrong.status).toBe(401);
    errorBodies.push(withoutFormToken(await wrong.text()));
    const signedIn = await accountLogin(PASSWORD);
    expect(signedIn.status).toBe(303);
    const home = await account.get(`${server.url}/account`);
    expect(home.status).toBe(200);
    const homeHtml = await home.text();
    const pageCsrf = /name="csrf" value="([^"]+)"/.exec(homeHtml)?.[1];
    if (pageCsrf) keep('account page csrf', pageCsrf);
    for (const [name, value] of jarOf(account)) keep(`account cookie ${name}`, value);
    expect((await account.get(`${server.url}/admin`)).status).toBe(200);
  });

  it('logged at trace level, and the output holds none of the secrets', () => {
    const all = output.join('\n');
    // The capture worked: requests and audit events were logged.
    expect(output.length).toBeGreaterThan(20);
    expect(all).toContain('login.failure');
    expect(all).toContain('token.refreshed');
    expect(secrets.size).toBeGreaterThanOrEqual(20);
    const leaked = [...secrets].filter(([, value]) => all.includes(value)).map(([name]) => name);
    expect(leaked).toEqual([]);
  });

  it('error responses echo none of the secrets', () => {
    expect(errorBodies.length).toBeGreaterThanOrEqual(6);
    const all = errorBodies.join('\n');
    const leaked = [...secrets].filter(([, value]) => all.includes(value)).map(([name]) => name);
    expect(leaked).toEqual([]);
  });
});
