// Property-based attacks on the browser-facing forms and the admin API: the interaction login,
// consent and abort forms, /account sign-in and pages, the admin console forms and /admin/api.
// Live sessions and CSRF tokens are set up first, so mutations reach past the cookie and CSRF
// checks. Properties: never a 5xx, the server keeps serving, a refused request changes nothing
// stored (failed sign-ins are audited by design: support/fuzz.ts AUDITED_REJECTIONS).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { connect, PASSWORD, RESOURCE, serverWithUsers, signedInClient, type WebClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { csrfOf, PUBLIC_CLIENT, type RegisteredClient, register } from '../support/oauth.js';
import { authorizeParams, openInteraction, type Step, signIn } from '../support/security.js';
import {
  accept,
  attack,
  authorization,
  cookie,
  formRequest,
  method,
  mutatedPairs,
  printStatuses,
  rawQuery,
  value,
} from './support/fuzz.js';

const NO_LIMITS = {
  MCP_OAUTH_RATE_LIMIT_ADMIN: '0',
  MCP_OAUTH_RATE_LIMIT_AUTHORIZE: '0',
  MCP_OAUTH_LOGIN_FAILURES_PER_USER_AND_ADDRESS: '1000',
  MCP_OAUTH_LOGIN_FAILURES_PER_USER: '1000',
  MCP_OAUTH_LOGIN_FAILURES_PER_ADDRESS: '100000',
};

let server: TestServer;
let client: RegisteredClient;
let bob: WebClient;
let root: WebClient;
let apiToken: string;
let ids: string[];

const cookieOf = (web: WebClient) => web.cookieHeader();

beforeAll(async () => {
  server = await serverWithUsers(NO_LIMITS);
  client = await register(server.url, { ...PUBLIC_CLIENT, client_name: 'Fuzz Agent' });
  const grants = [await connect(server, 'bob', client), await connect(server, 'alice')];
  bob = await signedInClient(server, 'bob');
  root = await signedInClient(server, 'root');
  apiToken = (await server.app.stores.adminTokens.create('fuzz', null, Math.floor(Date.now() / 1000))).token;
  const users: string[] = [];
  for (const u of ['alice', 'bob', 'root']) users.push((await server.app.stores.users.findByUsername(u))?.id ?? '');
  ids = [...grants.map((g) => g.grantId), ...users, client.client_id, 'alice', 'bob', 'root'];
});
afterAll(async () => {
  printStatuses();
  await server.close();
});

/** Paths from route templates under `prefix`, ':id' filled with a live id or a hostile value. */
function pathsWithIds(prefix: string, routes: string[]): fc.Arbitrary<string> {
  return fc
    .record({ route: fc.constantFrom(...routes), id: value(ids) })
    .map(({ route, id }) => `${prefix}${route.replace(':id', encodeURIComponent(Buffer.from(id).toString()))}`);
}

describe('fuzzing the forms and the admin API', { timeout: 240_000 }, () => {
  it('interaction login, consent and abort forms (live interactions)', async () => {
    // Live interactions at the login and at the consent step. A run that finishes one (an abort,
    // a sign-in, a consent) gets a fresh one for the next run: 'ZZloginZZ' and 'ZZconsentZZ' in paths,
    // fields and cookies stand for the current interaction's path, CSRF token and cookies.
    const jar = (s: Step) => (s.browser as unknown as { cookieHeader(): string }).cookieHeader();
    const fresh = async () => {
      const atLogin = await openInteraction(server, authorizeParams(client, { resource: RESOURCE }));
      const atConsent = await signIn(
        server,
        await openInteraction(server, authorizeParams(client, { resource: RESOURCE, scope: 'mcp:read mcp:write' })),
        'bob',
        PASSWORD,
      );
      const of = (step: Step) => ({ path: new URL(step.url).pathname, csrf: csrfOf(step.html), cookie: jar(step) });
      return { ZZloginZZ: of(atLogin), ZZconsentZZ: of(atConsent) };
    };
    let live = await fresh();
    const fill = (text: string, what: 'path' | 'csrf' | 'cookie') =>
      text.replace(/ZZ(login|consent)ZZ/g, (name) => live[name as keyof typeof live][what]);
    const known = ['alice', 'bob', 'root', PASSWORD, 'allow', 'deny', 'mcp:read', 'mcp:write', 'mcp:admin', 'openid'];
    const arb = fc
      .oneof(
        formRequest(
          fc.constantFrom(
            'ZZloginZZ/login',
            'ZZloginZZ/login',
            'ZZloginZZ/login',
            'ZZloginZZ/abort',
            'ZZloginZZ',
            '/interaction/x/login',
          ),
          [
            ['csrf', 'ZZloginZZ'],
            ['username', 'alice'],
            ['password', 'wrong password'],
          ],
          'ZZloginZZ',
          known,
        ),
        formRequest(
          fc.constantFrom('ZZconsentZZ/consent', 'ZZconsentZZ/consent', 'ZZconsentZZ/abort', 'ZZconsentZZ'),
          [
            ['csrf', 'ZZconsentZZ'],
            ['decision', 'deny'],
            ['scope', 'mcp:read'],
            ['scope', 'mcp:write'],
          ],
          'ZZconsentZZ',
          known,
        ),
      )
      .map((parts) => ({
        ...parts,
        path: fill(parts.path, 'path'),
        ...(parts.cookie === undefined ? {} : { cookie: fill(parts.cookie, 'cookie') }),
        query: (parts.query ?? []).map(([k, v]): [string, string] => [k, fill(v, 'csrf')]),
        ...(parts.shape?.body === undefined || typeof parts.shape.body !== 'string'
          ? {}
          : { shape: { ...parts.shape, body: fill(parts.shape.body, 'csrf') } }),
      }));
    await attack(server, arb, async (status) => {
      if (status === 303) live = await fresh(); // that interaction is finished
    });
  });

  it('/account sign-in, pages, logout and grant revocation', async () => {
    const loginPage = await fetch(`${server.url}/account/login`, { headers: { accept: 'text/html' } });
    const loginCookie = loginPage.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const loginCsrf = /name="csrf" value="([^"]+)"/.exec(await loginPage.text())?.[1] ?? '';
    const { csrf } = await bob.page('/account');
    const grantIds = ids.slice(0, 2);
    await attack(
      server,
      fc.oneof(
        formRequest(
          '/account/login',
          [
            ['csrf', loginCsrf],
            ['username', 'bob'],
            ['password', 'not the password'],
            ['next', '/account'],
          ],
          loginCookie,
          ['//evil.example', 'https://evil.example/', '/\\evil.example', '/account/../admin', PASSWORD],
        ),
        formRequest(
          fc.constantFrom(
            ...grantIds.map((g) => `/account/grants/${g}/revoke`),
            '/account/grants/%ZZ/revoke',
            '/account/logout',
            '/account',
            '/account/nope',
          ),
          // A wrong CSRF token by default: a run that keeps everything valid would sign bob out.
          [['csrf', `${csrf.slice(0, -2)}xx`]],
          cookieOf(bob),
          [csrf],
        ),
      ),
    );
  });

  it('admin console forms and pages', async () => {
    const { csrf } = await root.page('/admin');
    const targets = pathsWithIds('/admin/', [
      'grants/:id/revoke',
      'users/:id/revoke-grants',
      'users/:id/disable',
      'users/:id/enable',
      'agents/:id/revoke-grants',
      'agents/:id/disable',
      'agents/:id/enable',
      '',
      'agents',
      'users',
      'audit',
    ]);
    await attack(
      server,
      formRequest(
        targets,
        [
          ['csrf', `${csrf.slice(0, -2)}xx`],
          ['q', 'alice'],
        ],
        cookieOf(root),
        [csrf, 'revoked', 'active', '-1', '99999999999'],
      ),
    );
  });

  it('/admin/api with tokens, sessions and CSRF headers', async () => {
    const { csrf } = await root.page('/admin');
    const paths = pathsWithIds('/admin/api/', [
      'grants',
      'grants/:id/revoke',
      'users/:id/revoke-grants',
      'users/:id/disable',
      'users/:id/enable',
      'clients',
      'clients/:id/revoke-grants',
      'clients/:id/disable',
      'clients/:id/enable',
      'nope',
    ]);
    await attack(
      server,
      fc
        .record({
          path: paths,
          m: method('POST'),
          // The valid token only with a GET below, so the fuzz never disables the accounts it needs.
          auth: authorization([`Bearer ${apiToken}`]),
          c: cookie(cookieOf(root)),
          xcsrf: fc.option(value([csrf]), { nil: undefined }),
          query: mutatedPairs(
            [
              ['user', 'alice'],
              ['client', client.client_id],
              ['state', 'active'],
              ['resource', RESOURCE],
            ],
            ['revoked', 'all', '', '0'],
          ),
          a: accept,
          raw: rawQuery,
        })
        .map(({ path, m, auth, c, xcsrf, query, a, raw }) => {
          const writes = m !== 'GET' && m !== 'HEAD';
          const valid = auth === `Bearer ${apiToken}` || (c === cookieOf(root) && xcsrf === csrf);
          // A state-changing call with working credentials is a legitimate admin action: turn it into a read.
          const safeMethod = writes && valid ? 'GET' : m;
          return {
            method: safeMethod,
            path,
            query,
            rawQuery: raw,
            authorization: auth,
            cookie: c,
            accept: a,
            extra: { 'x-csrf-token': xcsrf },
          };
        }),
    );
  });
});
