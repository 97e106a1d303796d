// Every endpoint × a table of malformed requests: none may end in a 5xx. A 5xx here is a bug
// (an unhandled input reached code that threw), never an acceptable answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { type CookieBrowser, csrfOf, PUBLIC_CLIENT, type RegisteredClient, register } from '../support/oauth.js';
import { authorizeParams, openInteraction, RESOURCE, signIn, USER } from '../support/security.js';

let server: TestServer;
let client: RegisteredClient;

beforeAll(async () => {
  server = await startTestServer();
  await server.addUser(USER.username, USER.password);
  await server.addResource(RESOURCE, 'Orders DB');
  client = await register(server.url, PUBLIC_CLIENT);
});
afterAll(() => server.close());

/** Where a probe is sent, with the cookie and CSRF token of a live interaction when there is one. */
interface Target {
  path: string;
  cookie: string;
  csrf: string;
}

const cookieOf = (browser: CookieBrowser) => (browser as unknown as { cookieHeader(): string }).cookieHeader();

async function liveInteraction(stage: 'login' | 'consent', suffix: string): Promise<Target> {
  let step = await openInteraction(server, authorizeParams(client, { scope: 'mcp:read mcp:write' }));
  if (stage === 'consent') step = await signIn(server, step);
  return { path: `${new URL(step.url).pathname}${suffix}`, cookie: cookieOf(step.browser), csrf: csrfOf(step.html) };
}

const fixed = (path: () => string) => async (): Promise<Target> => ({ path: path(), cookie: '', csrf: '' });

const ENDPOINTS: { name: string; target: () => Promise<Target> }[] = [
  { name: '/authorize', target: fixed(() => '/authorize') },
  { name: '/token', target: fixed(() => '/token') },
  { name: '/register', target: fixed(() => '/register') },
  { name: '/register/:client_id', target: fixed(() => `/register/${client.client_id}`) },
  { name: '/revoke', target: fixed(() => '/revoke') },
  { name: '/jwks', target: fixed(() => '/jwks') },
  { name: '/.well-known/openid-configuration', target: fixed(() => '/.well-known/openid-configuration') },
  { name: '/.well-known/oauth-authorization-server', target: fixed(() => '/.well-known/oauth-authorization-server') },
  { name: '/interaction/x', target: fixed(() => '/interaction/x') },
  { name: '/interaction/x/login', target: fixed(() => '/interaction/x/login') },
  { name: '/interaction/x/consent', target: fixed(() => '/interaction/x/consent') },
  { name: '/interaction/:uid (live, login step)', target: () => liveInteraction('login', '') },
  { name: '/interaction/:uid/login (live)', target: () => liveInteraction('login', '/login') },
  { name: '/interaction/:uid/consent (live, signed in)', target: () => liveInteraction('consent', '/consent') },
  { name: '/interaction/:uid/abort (live)', target: () => liveInteraction('login', '/abort') },
];

const FORM = 'application/x-www-form-urlencoded';
const K10 = 'a'.repeat(10 * 1024);

interface Probe {
  name: string;
  method: string;
  query?: (t: Target) => string;
  headers?: Record<string, string>;
  body?: (t: Target) => string | Uint8Array;
}

const authorizeQuery = (extra: string) =>
  `response_type=code&client_id=${client.client_id}&redirect_uri=${encodeURIComponent(PUBLIC_CLIENT.redirect_uris[0] as string)}&code_challenge_method=S256&${extra}`;

const PROBES: Probe[] = [
  { name: 'GET invalid percent-encoding %E0%A4%A', method: 'GET', query: () => '%E0%A4%A=%E0%A4%A' },
  { name: 'GET lone % and %zz', method: 'GET', query: () => 'a=%&b=%zz&%=c' },
  { name: 'GET empty pairs and bare =', method: 'GET', query: () => '&&&==&=&' },
  { name: 'GET 10 KB client_id', method: 'GET', query: () => `client_id=${K10}` },
  {
    name: 'GET bracketed (qs-style) parameters',
    method: 'GET',
    query: () => 'client_id[]=1&client_id[x]=2&scope[__proto__]=x',
  },
  {
    name: 'GET NUL and control characters',
    method: 'GET',
    query: () => `client_id=${client.client_id}&scope=%00%01%7F&state=%0D%0ASet-Cookie:x=y`,
  },
  {
    name: 'GET authorize params with a broken redirect_uri',
    method: 'GET',
    query: () => `client_id=${client.client_id}&response_type=code&redirect_uri=%E0%A4%A`,
  },
  {
    name: 'GET authorize params with broken resource',
    method: 'GET',
    query: () => authorizeQuery(`code_challenge=${'c'.repeat(43)}&resource=%E0%A4%A&resource=http://[::1`),
  },
  {
    name: 'GET authorize params with 10 KB values',
    method: 'GET',
    query: () =>
      authorizeQuery(`code_challenge=${K10}&resource=https://mcp.example.com/${K10}&scope=${K10}&state=${K10}`),
  },
  ...[
    'request=a.b.c',
    'request_uri=https://evil.example.com/r',
    'claims=%7Bnot-json',
    'max_age=-1e999',
    'prompt=none%20login%20consent%20x',
    'prompt=none',
    'id_token_hint=a.b.c',
    'response_mode=form_post',
    'response_mode=x',
    'authorization_details=%5B%7B%7D%5D',
    'dpop_jkt=x',
    'scope=openid%20offline_access&nonce=n',
    'ui_locales=%E0%A4%A',
  ].map((extra) => ({
    name: `GET authorize params with ${extra.split('=')[0]}=${extra.slice(extra.indexOf('=') + 1, 30)}`,
    method: 'GET',
    query: () => authorizeQuery(`code_challenge=${'c'.repeat(43)}&state=s&${extra}`),
  })),
  {
    name: 'GET garbage Accept and Accept-Language',
    method: 'GET',
    headers: { accept: '*/*;q=abc, text/html;;;', 'accept-language': '\u00ff\u00fe;q=x' },
  },
  {
    name: 'GET garbage cookies',
    method: 'GET',
    headers: { cookie: '_interaction=%E0%A4%A; _session=..; _session.sig=x; mcp_csrf=%%%' },
  },
  { name: 'GET garbage Authorization', method: 'GET', headers: { authorization: 'Basic !!!not-base64!!!' } },
  {
    name: 'GET 10 KB bearer and a garbage DPoP header',
    method: 'GET',
    headers: { authorization: `Bearer ${K10}`, dpop: 'a.b.c' },
  },
  {
    name: 'POST form with invalid percent-encoding',
    method: 'POST',
    headers: { 'content-type': FORM },
    body: (t) => `csrf=${t.csrf}&%E0%A4%A=%&username=%zz`,
  },
  {
    name: 'POST form with 10 KB values',
    method: 'POST',
    headers: { 'content-type': FORM },
    body: (t) =>
      `csrf=${t.csrf}&grant_type=authorization_code&client_id=${client.client_id}&code=${K10}&token=${K10}&username=${K10}&password=${K10}`,
  },
  {
    name: 'POST form with repeated and bracketed fields',
    method: 'POST',
    headers: { 'content-type': FORM },
    body: (t) =>
      `csrf=${t.csrf}&csrf=${t.csrf}&decision[]=allow&scope[x]=1&username[a]=b&__proto__[x]=1&constructor[prototype][x]=1`,
  },
  {
    name: 'POST form with a valid csrf and no other field',
    method: 'POST',
    headers: { 'content-type': FORM },
    body: (t) => `csrf=${t.csrf}`,
  },
  {
    name: 'POST form with refresh_token and resource garbage',
    method: 'POST',
    headers: { 'content-type': FORM },
    body: () =>
      `grant_type=refresh_token&client_id=${client.client_id}&refresh_token=%E0%A4%A&resource=%E0%A4%A&resource=`,
  },
  {
    name: 'POST form over 56 KiB',
    method: 'POST',
    headers: { 'content-type': FORM },
    body: () => `x=${'a'.repeat(60 * 1024)}`,
  },
  {
    name: 'POST invalid JSON',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: () => '{"redirect_uris": [',
  },
  { name: 'POST JSON array', method: 'POST', headers: { 'content-type': 'application/json' }, body: () => '[]' },
  { name: 'POST JSON null', method: 'POST', headers: { 'content-type': 'application/json' }, body: () => 'null' },
  { name: 'POST JSON string', method: 'POST', headers: { 'content-type': 'application/json' }, body: () => '"x"' },
  {
    name: 'POST JSON with wrong member types',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: () => '{"redirect_uris":[1,{}],"client_name":[],"grant_types":"x","scope":5,"jwks":"x"}',
  },
  {
    name: 'POST JSON with __proto__ members',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: () =>
      '{"__proto__":{"admin":true},"constructor":{"prototype":{}},"redirect_uris":["https://a.example.com/cb"]}',
  },
  {
    name: 'POST JSON nested 5,000 deep',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: () => `${'['.repeat(5000)}${']'.repeat(5000)}`,
  },
  {
    name: 'POST binary octet-stream',
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: () => new Uint8Array([0, 255, 254, 1, 2, 3, 0x80, 0xc0]),
  },
  {
    name: 'POST binary labelled as a form',
    method: 'POST',
    headers: { 'content-type': FORM },
    body: () => new Uint8Array([0xff, 0xfe, 0x3d, 0x00, 0x26, 0xc3, 0x28]),
  },
  {
    name: 'POST binary labelled as JSON',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: () => new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0xff, 0x7d]),
  },
  {
    name: 'POST text/plain',
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: () => 'grant_type=authorization_code',
  },
  {
    name: 'POST multipart',
    method: 'POST',
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
    body: () => '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n',
  },
  {
    name: 'POST a form in an unsupported charset',
    method: 'POST',
    headers: { 'content-type': `${FORM}; charset=utf-16` },
    body: () => 'a=b',
  },
  {
    name: 'POST a form in an unknown charset',
    method: 'POST',
    headers: { 'content-type': `${FORM}; charset=x-nope` },
    body: () => 'a=b',
  },
  {
    name: 'POST with a malformed Content-Type',
    method: 'POST',
    headers: { 'content-type': ';;;/=' },
    body: () => 'a=b',
  },
  { name: 'POST without a Content-Type', method: 'POST', body: () => 'a=b' },
  { name: 'POST with an empty body', method: 'POST', headers: { 'content-type': FORM }, body: () => '' },
  { name: 'PUT a form', method: 'PUT', headers: { 'content-type': FORM }, body: () => 'a=b' },
  { name: 'PUT invalid JSON', method: 'PUT', headers: { 'content-type': 'application/json' }, body: () => '{' },
  { name: 'DELETE', method: 'DELETE' },
  { name: 'PATCH', method: 'PATCH', headers: { 'content-type': 'application/json' }, body: () => '{}' },
  { name: 'OPTIONS without preflight headers', method: 'OPTIONS' },
  {
    name: 'OPTIONS preflight from a null origin',
    method: 'OPTIONS',
    headers: { origin: 'null', 'access-control-request-method': 'POST' },
  },
  { name: 'HEAD', method: 'HEAD' },
];

describe.each(ENDPOINTS)('$name', ({ target }) => {
  it.each(PROBES)('$name → not a 5xx', async (probe) => {
    const t = await target();
    const query = probe.query ? `?${probe.query(t)}` : '';
    const headers: Record<string, string> = { ...probe.headers };
    if (t.cookie) headers.cookie = headers.cookie ? `${t.cookie}; ${headers.cookie}` : t.cookie;
    const res = await fetch(`${server.url}${t.path}${query}`, {
      method: probe.method,
      headers,
      ...(probe.body ? { body: probe.body(t) } : {}),
      redirect: 'manual',
    });
    const text = await res.text();
    expect(res.status, `${probe.method} ${t.path} answered ${res.status}: ${text.slice(0, 200)}`).toBeLessThan(500);
    expect(text).not.toContain('server_error');
  });
});
