// Property-based attacks on the OAuth endpoints: /authorize, /token (every grant type), /register
// and its management URL, /revoke, /introspect, the revocation feed and the metadata documents.
// Each run sends one random or mutated request; the properties: never a 5xx, the server keeps
// serving, and a refused request changes nothing stored (support/fuzz.ts). fast-check prints the
// seed and the shrunk request of a failure; FUZZ_RUNS raises or lowers the run count.
import fc from 'fast-check';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, pkcePair, type RegisteredClient, redeem, register } from '../support/oauth.js';
import {
  accept,
  attack,
  authorization,
  body,
  formRequest,
  method,
  mutatedPairs,
  type Pairs,
  printStatuses,
  rawQuery,
  value,
} from './support/fuzz.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const USER = { username: 'alice', password: 'correct horse battery' };
const NO_LIMITS = {
  MCP_OAUTH_RATE_LIMIT_TOKEN: '0',
  MCP_OAUTH_RATE_LIMIT_REGISTRATION: '0',
  MCP_OAUTH_RATE_LIMIT_INTROSPECTION: '0',
  MCP_OAUTH_RATE_LIMIT_FEED: '0',
  MCP_OAUTH_RATE_LIMIT_ADMIN: '0',
  MCP_OAUTH_RATE_LIMIT_AUTHORIZE: '0',
};

let server: TestServer;
let pub: RegisteredClient;
let conf: RegisteredClient;
let managed: RegisteredClient;
let feedAuth: string;
/** The browser session of a signed-in user, so /authorize runs reach consent and prompt handling. */
let session = '';
let confAuth: string;
/** The newest valid refresh token of a grant (rotated whenever a fuzzed refresh succeeds). */
const live = { refresh: '', access: '', grantId: '' };

const basicOf = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

beforeAll(async () => {
  server = await startTestServer(NO_LIMITS);
  await server.addUser(USER.username, USER.password);
  await server.addResource(RESOURCE, 'Orders DB');
  const resource = await server.app.stores.resources.findByUri(RESOURCE);
  if (!resource) throw new Error('no resource');
  const feed = await server.app.stores.credentials.create(resource.id, { replace: false });
  feedAuth = basicOf(feed.id, feed.secret);
  pub = await register(server.url, PUBLIC_CLIENT);
  conf = await register(server.url, {
    ...PUBLIC_CLIENT,
    client_name: 'Confidential',
    redirect_uris: ['https://agent.example.com/callback'],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  confAuth = basicOf(conf.client_id, conf.client_secret ?? '');
  managed = await register(server.url, { ...PUBLIC_CLIENT, client_name: 'Managed' });
  const got = await authorize(server.url, { client: pub, ...USER, resource: RESOURCE, scope: 'mcp:read' });
  session = (got.browser as unknown as { cookieHeader(): string }).cookieHeader();
  const tokens = await redeem(server.url, pub, got);
  live.refresh = String(tokens.body.refresh_token);
  live.access = String(tokens.body.access_token);
  live.grantId = String(decodeJwt(live.access).grant_id);
});
afterAll(async () => {
  printStatuses();
  await server.close();
});

describe('fuzzing the OAuth endpoints', { timeout: 240_000 }, () => {
  it('/authorize (GET query and POST form)', async () => {
    const valid: Pairs = [
      ['response_type', 'code'],
      ['client_id', pub.client_id],
      ['redirect_uri', pub.redirect_uris[0] ?? ''],
      ['code_challenge', pkcePair().challenge],
      ['code_challenge_method', 'S256'],
      ['state', 'st'],
      ['resource', RESOURCE],
      ['scope', 'mcp:read'],
    ];
    const known = [
      conf.client_id,
      'https://agent.example.com/client.json',
      'plain',
      'token',
      'code id_token',
      'openid',
      'offline_access',
      'mcp:write',
      'consent',
      'none',
      'login',
      'form_post',
      'fragment',
      'query.jwt',
      'prompt',
      'max_age',
      'request_uri',
      'request',
    ];
    await attack(server, formRequest('/authorize', valid, session, known, 'GET'));
  });

  it('/token with every grant type, client authentication and body encoding', async () => {
    const grantTypes = [
      'authorization_code',
      'refresh_token',
      'client_credentials',
      'password',
      'implicit',
      'urn:ietf:params:oauth:grant-type:device_code',
      'urn:ietf:params:oauth:grant-type:token-exchange',
      'urn:openid:params:grant-type:ciba',
    ];
    const validFor = (grant: string): Pairs => {
      switch (grant) {
        case 'authorization_code':
          return [
            ['grant_type', grant],
            ['code', 'x'.repeat(43)],
            ['redirect_uri', pub.redirect_uris[0] ?? ''],
            ['code_verifier', pkcePair().verifier],
            ['client_id', pub.client_id],
          ];
        case 'refresh_token':
          return [
            ['grant_type', grant],
            ['refresh_token', live.refresh],
            ['client_id', pub.client_id],
            ['resource', RESOURCE],
            ['scope', 'mcp:read'],
          ];
        default:
          return [
            ['grant_type', grant],
            ['client_id', conf.client_id],
            ['scope', 'mcp:read'],
            ['resource', RESOURCE],
          ];
      }
    };
    const known = [...grantTypes, live.access, conf.client_id, 'https://mcp.example.com/mcp/', `${RESOURCE}#x`];
    await attack(
      server,
      fc
        .record({
          m: method('POST'),
          grant: fc.constantFrom(...grantTypes),
          auth: authorization([confAuth]),
          a: accept,
          dpop: fc.oneof(
            { arbitrary: fc.constant(undefined), weight: 4 },
            { arbitrary: value(['eyJhbGciOiJFUzI1NiJ9.e30.x']), weight: 1 },
          ),
        })
        .chain(({ m, grant, auth, a, dpop }) =>
          // Built lazily so a rotated refresh token is used.
          mutatedPairs(validFor(grant), known).chain((pairs) =>
            body(pairs).map((shape) => ({
              method: m,
              path: '/token',
              shape,
              authorization: auth,
              accept: a,
              extra: { dpop },
            })),
          ),
        ),
      (status, text) => {
        // A fuzzed refresh that was accepted rotated the token: carry on with the new one.
        if (status === 200 && text.includes('refresh_token')) {
          const rotated = JSON.parse(text) as { refresh_token?: string; access_token?: string };
          if (rotated.refresh_token && decodeJwt(rotated.access_token ?? '').grant_id === live.grantId) {
            live.refresh = rotated.refresh_token;
          }
        }
      },
    );
  });

  it('refresh_token grant: a refused refresh consumes nothing and revokes nothing', async () => {
    // docs/pitfalls.md#resource-indicators-compared-as-strings: oidc-provider consumes the refresh
    // token before checking `resource`, so a bad indicator could cost the agent its grant. The
    // token here is always the live one; everything around it is mutated.
    const rotateOn = (status: number, text: string) => {
      if (status !== 200) return;
      const rotated = JSON.parse(text) as { refresh_token?: string };
      if (rotated.refresh_token) live.refresh = rotated.refresh_token;
    };
    const others = [
      `${RESOURCE}/`,
      `${RESOURCE}#frag`,
      `${RESOURCE}?x=1`,
      'https://other.example.com/mcp',
      'HTTPS://MCP.EXAMPLE.COM/mcp',
      'mcp:write',
      'mcp:read mcp:write',
      'openid offline_access',
      conf.client_id,
      managed.client_id,
    ];
    await attack(
      server,
      fc
        .record({
          extra: mutatedPairs(
            [
              ['client_id', pub.client_id],
              ['resource', RESOURCE],
              ['scope', 'mcp:read'],
            ],
            others,
          ),
          auth: authorization([confAuth]),
          type: fc.constantFrom('matching', 'matching', 'matching', 'application/json', 'text/plain', undefined),
        })
        .map(({ extra, auth, type }) => {
          const pairs: Pairs = [['grant_type', 'refresh_token'], ['refresh_token', live.refresh], ...extra];
          const form = new URLSearchParams(pairs).toString();
          const contentType = type === 'matching' ? 'application/x-www-form-urlencoded' : type;
          return {
            method: 'POST',
            path: '/token',
            shape: { ...(contentType ? { contentType } : {}), body: form },
            authorization: auth,
          };
        }),
      rotateOn,
    );
    // The grant survived every refusal: the live token still refreshes.
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: live.refresh, client_id: pub.client_id }),
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    rotateOn(res.status, text);
  });

  it('/register (JSON metadata with hostile members)', async () => {
    const validMeta: Record<string, unknown> = {
      client_name: 'Fuzz Agent',
      redirect_uris: ['http://127.0.0.1:33418/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'mcp:read',
      client_uri: 'https://agent.example.com',
      logo_uri: 'https://agent.example.com/logo.png',
      software_id: 'fuzz',
      application_type: 'native',
    };
    const member = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      value(['http://127.0.0.1/cb', 'cursor://cb', 'https://x.example/cb', 'client_secret_basic', 'web']),
      fc.array(value(['http://127.0.0.1/cb', 'javascript:x', 'https://x#frag', 'authorization_code']), {
        maxLength: 4,
      }),
    );
    const metadata = fc
      .record({
        keep: fc.subarray(Object.keys(validMeta)),
        set: fc.dictionary(
          fc.oneof(
            fc.constantFrom(...Object.keys(validMeta), 'jwks', 'jwks_uri', 'client_id', 'resource', '__proto__'),
            fc.string({ maxLength: 8 }),
          ),
          member,
          { maxKeys: 3 },
        ),
      })
      .map(({ keep, set }) => ({ ...Object.fromEntries(keep.map((k) => [k, validMeta[k]])), ...set }));
    await attack(
      server,
      fc
        .record({
          m: method('POST'),
          meta: metadata,
          type: fc.constantFrom(
            'application/json',
            'application/json',
            'text/plain',
            'application/x-www-form-urlencoded',
            undefined,
          ),
          broken: fc.boolean(),
          auth: authorization(),
          origin: fc.constantFrom(undefined, 'https://evil.example', 'null'),
        })
        .map(({ m, meta, type, broken, auth, origin }) => {
          const json = JSON.stringify(meta);
          return {
            method: m,
            path: '/register',
            shape: { ...(type ? { contentType: type } : {}), body: broken ? json.slice(0, -1) : json },
            authorization: auth,
            extra: { origin },
          };
        }),
    );
  });

  it('/register/:client_id management (RFC 7592) with good and bad registration access tokens', async () => {
    // The current token of each client (an accepted update rotates it); '@name@' stands for it.
    const rats: Record<string, string> = {
      '@managed@': managed.registration_access_token ?? '',
      '@pub@': pub.registration_access_token ?? '',
    };
    const owner: Record<string, string> = { '@managed@': managed.client_id, '@pub@': pub.client_id };
    await attack(
      server,
      fc
        .record({
          m: fc.constantFrom('GET', 'PUT', 'DELETE', 'POST', 'PATCH', 'OPTIONS'),
          id: value([managed.client_id, pub.client_id, conf.client_id]),
          auth: authorization(['Bearer @managed@', 'Bearer @pub@']),
          meta: fc.dictionary(
            fc.constantFrom('client_id', 'redirect_uris', 'client_name', 'grant_types', 'x'),
            fc.jsonValue({ maxDepth: 2 }),
            { maxKeys: 4 },
          ),
        })
        // Deleting the client with its own token is a legitimate answer; keep it for the others.
        .filter(({ m, id, auth }) => !(m === 'DELETE' && id === managed.client_id && auth === 'Bearer @managed@'))
        .map(({ m, id, auth, meta }) => ({
          method: m,
          path: `/register/${encodeURIComponent(Buffer.from(id).toString())}`,
          shape: { contentType: 'application/json', body: JSON.stringify({ client_id: managed.client_id, ...meta }) },
          authorization: auth?.replace(/@\w+@/, (name) => rats[name] ?? name),
          extra: { 'x-rat': auth?.match(/@\w+@/)?.[0], 'x-id': id },
        })),
      (status, text) => {
        if (status !== 200) return;
        const updated = JSON.parse(text) as { client_id?: string; registration_access_token?: string };
        if (updated.client_id === managed.client_id && updated.registration_access_token) {
          rats['@managed@'] = updated.registration_access_token;
        }
      },
      // oidc-provider destroys a registration access token presented for another client (it is
      // then presumed leaked): that refusal deletes the token row by design.
      (parts) => {
        const name = parts.extra?.['x-rat'];
        return name && owner[name] !== parts.extra?.['x-id'] ? ['oidc_models'] : [];
      },
    );
  });

  it('/revoke and /introspect with hostile tokens and credentials', async () => {
    const known = [live.access, 'refresh_token', 'access_token', 'urn:x'];
    const valid = (path: string): Pairs => [
      ['token', path === '/revoke' ? 'not-a-live-token' : live.access],
      ['token_type_hint', 'access_token'],
      ['client_id', pub.client_id],
    ];
    await attack(
      server,
      fc
        .record({ path: fc.constantFrom('/revoke', '/introspect'), m: method('POST'), a: accept })
        .chain(({ path, m, a }) =>
          fc
            .record({
              pairs: mutatedPairs(valid(path), known),
              auth: authorization(path === '/revoke' ? [confAuth] : [feedAuth, confAuth]),
            })
            .chain(({ pairs, auth }) =>
              body(pairs).map((shape) => ({ method: m, path, shape, authorization: auth, accept: a })),
            ),
        ),
    );
  });

  it('the revocation feed (pull and stream) and the metadata documents', async () => {
    const paths = [
      '/revocations',
      '/revocations/stream',
      '/jwks',
      '/.well-known/oauth-authorization-server',
      '/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server/x',
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/mcp',
    ];
    await attack(
      server,
      fc
        .record({
          path: fc.constantFrom(...paths),
          m: method('GET'),
          query: mutatedPairs(
            [
              ['after', '0'],
              ['limit', '10'],
            ],
            ['99999999999999999', '1000', '1001', '-0', '1.5'],
          ),
          auth: authorization([feedAuth, confAuth]),
          lastEventId: fc.option(value(['0', '5', '999999999999999999']), { nil: undefined }),
          a: accept,
          raw: rawQuery,
        })
        .map(({ path, m, query, auth, lastEventId, a, raw }) => ({
          method: m,
          path,
          query,
          rawQuery: raw,
          authorization: auth,
          accept: a,
          extra: { 'last-event-id': lastEventId },
        })),
    );
  });

  it('raw paths: broken escapes, dot segments, doubled slashes, encoded separators', async () => {
    const prefixes = [
      '/authorize',
      '/token',
      '/register',
      '/register/',
      '/revoke',
      '/introspect',
      '/jwks',
      '/interaction',
      '/interaction/',
      '/account',
      '/account/grants',
      '/admin',
      '/admin/api',
      '/admin/api/grants',
      '/revocations',
      '/.well-known',
      '/static',
      '',
    ];
    const segments = [
      '%',
      '%ZZ',
      '%E0%A4',
      '%C0%AF',
      '%2F',
      '%2e%2e',
      '..',
      '.',
      '',
      '%00',
      '~',
      'x'.repeat(3000),
      'revoke',
      'login',
    ];
    await attack(
      server,
      fc
        .record({
          prefix: fc.constantFrom(...prefixes),
          rest: fc.array(fc.constantFrom(...segments), { maxLength: 4 }),
          m: method('GET'),
          a: accept,
          auth: authorization([feedAuth, confAuth]),
        })
        .map(({ prefix, rest, m, a, auth }) => ({
          method: m,
          path: `${prefix}/${rest.join('/')}`.replace(/^\/\//, '//'),
          accept: a,
          authorization: auth,
        })),
    );
  });
});
