// /interaction/:uid: CSRF, one answer for every failed login, denial and partial consent, and the
// headers every page carries.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserRepository } from '../../src/storage/users.js';
import { startTestServer, type TestServer } from '../support/app.js';
import {
  CookieBrowser,
  csrfOf,
  PUBLIC_CLIENT,
  pkcePair,
  type RegisteredClient,
  register,
  tokenRequest,
} from '../support/oauth.js';
import {
  authorizeParams,
  countRows,
  offeredScopes,
  openInteraction,
  pageErrorCode,
  pageMessage,
  RESOURCE,
  redirectParams,
  type Step,
  signIn,
  USER,
} from '../support/security.js';

const REDIRECT = PUBLIC_CLIENT.redirect_uris[0] as string;

let server: TestServer;
let client: RegisteredClient;

beforeAll(async () => {
  server = await startTestServer();
  await server.addUser(USER.username, USER.password);
  const disabled = await server.addUser('mallory', 'mallory password 1');
  await createUserRepository(server.sql).setDisabled(disabled.id, true);
  await server.addResource(RESOURCE, 'Orders DB');
  client = await register(server.url, PUBLIC_CLIENT);
});
afterAll(() => server.close());

// A fresh agent each time, so no grant from another case changes what consent shows.
const loginPage = async () =>
  openInteraction(server, authorizeParams(await register(server.url, PUBLIC_CLIENT), { scope: 'mcp:read mcp:write' }));
const consentPage = async () => signIn(server, await loginPage());

const LOST = 'This sign-in link has expired or was opened in a different browser. Start again from the agent.';

async function expectRefusalPage(
  res: Response,
  status: number,
  message: string,
  code = 'invalid_request',
): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('location')).toBeNull();
  const html = await res.text();
  expect(pageErrorCode(html)).toBe(message === LOST ? 'session_not_found' : code);
  expect(pageMessage(html)).toBe(message);
}

/** Submits the consent form and returns the parameters of the redirect back to the agent. */
async function decide(step: Step, fields: Record<string, string | string[]>): Promise<URLSearchParams> {
  const res = await step.browser.post(`${step.url}/consent`, { csrf: csrfOf(step.html), ...fields });
  expect(res.status).toBe(303);
  const { url } = await step.browser.follow(res, `${step.url}/consent`, server.url);
  const location = new URL(url);
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
  const params = redirectParams(location);
  expect(params.get('iss')).toBe(server.url);
  expect(params.get('state')).toBe('st-123');
  return params;
}

const CSRF_REFUSED = 'the form expired or did not come from this site; go back to the agent and start again';

describe('CSRF on the login and consent forms', () => {
  it.each<[string, 'login' | 'consent', (earlier: Step) => Record<string, string>]>([
    ['login without csrf', 'login', () => ({ username: USER.username, password: USER.password })],
    [
      'login with a made-up csrf',
      'login',
      () => ({ csrf: 'A'.repeat(43), username: USER.username, password: USER.password }),
    ],
    [
      'login with the csrf of another interaction in the same browser',
      'login',
      (earlier) => ({ csrf: csrfOf(earlier.html), username: USER.username, password: USER.password }),
    ],
    ['consent without csrf', 'consent', () => ({ decision: 'allow', scope: 'mcp:read' })],
    ['consent with a made-up csrf', 'consent', () => ({ csrf: 'A'.repeat(43), decision: 'allow', scope: 'mcp:read' })],
    [
      'consent with the csrf of another interaction in the same browser',
      'consent',
      (earlier) => ({ csrf: csrfOf(earlier.html), decision: 'allow', scope: 'mcp:read' }),
    ],
  ])('%s → 403, and nothing is issued', async (_label, form, fields) => {
    // `earlier` shares the browser (and its csrf cookie) but is another interaction: its token is
    // genuine, for the wrong interaction. The form is then posted to the newer interaction.
    const earlier = form === 'login' ? await loginPage() : await consentPage();
    const agent = await register(server.url, PUBLIC_CLIENT);
    const step = await openInteraction(
      server,
      authorizeParams(agent, { scope: 'mcp:read mcp:write' }),
      earlier.browser,
    );
    expect(step.html).toContain(form === 'login' ? 'name="password"' : 'Allow access?');
    const codes = await countRows(server, 'AuthorizationCode');
    const sessions = await countRows(server, 'Session');
    await expectRefusalPage(await step.browser.post(`${step.url}/${form}`, fields(earlier)), 403, CSRF_REFUSED);
    expect(await countRows(server, 'AuthorizationCode')).toBe(codes);
    expect(await countRows(server, 'Session')).toBe(sessions);
    // The refused post consumed nothing: the real form still works.
    if (form === 'consent') {
      const params = await decide(step, { decision: 'allow', scope: ['mcp:read', 'mcp:write'] });
      expect(params.get('code')).toEqual(expect.any(String));
    } else {
      expect((await signIn(server, step)).html).toContain('Allow access?');
    }
  });

  it('a genuine csrf replayed from another browser → 403', async () => {
    const victim = await loginPage();
    const attacker = new CookieBrowser();
    const res = await attacker.post(`${victim.url}/login`, {
      csrf: csrfOf(victim.html),
      username: USER.username,
      password: USER.password,
    });
    await expectRefusalPage(res, 403, CSRF_REFUSED);
  });

  it('a JSON login post → 415', async () => {
    const step = await loginPage();
    const res = await fetch(`${step.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ csrf: csrfOf(step.html), username: USER.username, password: USER.password }),
    });
    await expectRefusalPage(res, 415, 'forms must be url-encoded');
  });
});

describe('failed logins all look the same', () => {
  it.each([
    ['a wrong password', USER.username, 'not the password'],
    ['an unknown user', 'nobody', 'whatever password'],
    ['a disabled user with the right password', 'mallory', 'mallory password 1'],
    ['a username over 64 characters', 'a'.repeat(65), 'whatever password'],
  ])('%s → 401 "Wrong username or password."', async (_label, username, password) => {
    const step = await loginPage();
    const sessions = await countRows(server, 'Session');
    const res = await step.browser.post(`${step.url}/login`, { csrf: csrfOf(step.html), username, password });
    expect(res.status).toBe(401);
    expect(res.headers.get('location')).toBeNull();
    const html = await res.text();
    expect(html).toContain('<p class="error" role="alert">Wrong username or password.</p>');
    expect(html).toContain('name="password"');
    expect(await countRows(server, 'Session')).toBe(sessions);
  });
});

describe('unknown or foreign interactions → 4xx page, never 5xx', () => {
  it.each([
    ['a random uid without a cookie', 400, LOST, `/interaction/${'Q'.repeat(43)}`],
    ['a malformed uid', 400, 'malformed interaction id', '/interaction/abc$def'],
    ['an over-long uid', 400, 'malformed interaction id', `/interaction/${'a'.repeat(100)}`],
  ])('GET %s → %i', async (_label, status, message, path) => {
    const res = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html' } });
    await expectRefusalPage(res, status, message);
  });

  it("another browser's interaction → 400, and an older interaction of the same browser → 400", async () => {
    const first = await loginPage();
    await expectRefusalPage(await new CookieBrowser().get(first.url), 400, LOST);
    await openInteraction(server, authorizeParams(client), first.browser);
    await expectRefusalPage(
      await first.browser.get(first.url),
      400,
      'this sign-in link does not belong to this browser',
    );
  });
});

describe('denying and narrowing consent', () => {
  it('Deny → redirect to the agent with error=access_denied and no code', async () => {
    const codes = await countRows(server, 'AuthorizationCode');
    const params = await decide(await consentPage(), { decision: 'deny', scope: ['mcp:read', 'mcp:write'] });
    expect(params.get('error')).toBe('access_denied');
    expect(params.get('code')).toBeNull();
    expect(await countRows(server, 'AuthorizationCode')).toBe(codes);
  });

  it('Allow with every scope unticked → access_denied', async () => {
    const params = await decide(await consentPage(), { decision: 'allow' });
    expect(params.get('error')).toBe('access_denied');
    expect(params.get('error_description')).toBe('the user allowed no permission');
    expect(params.get('code')).toBeNull();
  });

  it('Cancel on the login page → access_denied at the agent, with iss and state', async () => {
    const step = await loginPage();
    const res = await step.browser.post(`${step.url}/abort`, { csrf: csrfOf(step.html) });
    const { url } = await step.browser.follow(res, `${step.url}/abort`, server.url);
    const location = new URL(url);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('iss')).toBe(server.url);
    expect(location.searchParams.get('state')).toBe('st-123');
    expect(location.searchParams.get('code')).toBeNull();
  });

  // The consent answer must stand: not a new consent page asking for mcp:write again.
  it('unticking mcp:write when both were requested → a token with exactly mcp:read', async () => {
    const agent = await register(server.url, PUBLIC_CLIENT);
    const { verifier, challenge } = pkcePair();
    const step = await signIn(
      server,
      await openInteraction(server, authorizeParams(agent, { scope: 'mcp:read mcp:write', code_challenge: challenge })),
    );
    expect(offeredScopes(step.html)).toEqual(['mcp:read', 'mcp:write']);
    const params = await decide(step, { decision: 'allow', scope: 'mcp:read' });
    const res = await tokenRequest(server.url, {
      grant_type: 'authorization_code',
      code: params.get('code') ?? '',
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      client_id: agent.client_id,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; scope: string };
    expect(body.scope).toBe('mcp:read');
    expect(decodeJwt(body.access_token).scope).toBe('mcp:read');
  });

  it('a scope added to the form that was never requested is not granted', async () => {
    const agent = await register(server.url, PUBLIC_CLIENT);
    const { verifier, challenge } = pkcePair();
    const step = await signIn(
      server,
      await openInteraction(server, authorizeParams(agent, { scope: 'mcp:read', code_challenge: challenge })),
    );
    const params = await decide(step, { decision: 'allow', scope: ['mcp:read', 'mcp:write', 'admin:all'] });
    const res = await tokenRequest(server.url, {
      grant_type: 'authorization_code',
      code: params.get('code') ?? '',
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      client_id: agent.client_id,
    });
    expect(res.status).toBe(200);
    expect(decodeJwt(((await res.json()) as { access_token: string }).access_token).scope).toBe('mcp:read');
  });
});

describe('page headers', () => {
  const pages: [string, () => Promise<Response>][] = [
    [
      'the login page',
      async () => {
        const step = await loginPage();
        return step.browser.get(step.url);
      },
    ],
    [
      'the consent page',
      async () => {
        const step = await consentPage();
        return step.browser.get(step.url);
      },
    ],
    [
      'an interaction error page',
      () => fetch(`${server.url}/interaction/${'Q'.repeat(43)}`, { headers: { accept: 'text/html' } }),
    ],
    [
      'the /authorize error page (unknown client)',
      () => fetch(`${server.url}/authorize?client_id=nope&response_type=code`, { headers: { accept: 'text/html' } }),
    ],
    [
      'the CSRF refusal page',
      async () => {
        const step = await loginPage();
        return step.browser.post(`${step.url}/login`, { username: 'x', password: 'y' });
      },
    ],
    [
      'a failed login',
      async () => {
        const step = await loginPage();
        return step.browser.post(`${step.url}/login`, { csrf: csrfOf(step.html), username: 'nobody', password: 'x' });
      },
    ],
  ];

  it.each(pages)('%s: no-store, frame-ancestors none, X-Frame-Options DENY', async (_label, load) => {
    const res = await load();
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });

  it('the login form asks password managers for username and current-password', async () => {
    const { html } = await loginPage();
    // "webauthn" also lets the browser offer passkeys there (conditional UI).
    expect(html).toMatch(/<input id="username" name="username"[^>]*autocomplete="username webauthn"/);
    expect(html).toMatch(/<input id="password" name="password" type="password"[^>]*autocomplete="current-password"/);
  });
});
