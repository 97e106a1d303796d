// Step-up at the proxy (RFC 9470): a route that demands a multi-factor sign-in for writing tools
// refuses a password-only token with 401 insufficient_user_authentication naming the acr_values
// (and max_age) to ask for, lets reading tools through, and lets a token from a sign-in with a
// second factor (or a passkey) write. The token's acr/amr/auth_time come from the real server.
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACR, acrValuesFor } from '../../src/lib/sign_in_strength.js';
import {
  type Chain,
  expectNoAuthorization,
  forgeWithAsKey,
  INIT,
  MCP_HEADERS,
  obtainToken,
  PASSWORD,
  startChain,
} from '../proxy/helpers.js';
import { WebClient } from '../support/account.js';
import { PUBLIC_CLIENT, register } from '../support/oauth.js';
import { consentAndRedeem, enrolTotp, field, startAuthorization, submit, totpCode } from './support.js';

const MAX_AGE = 600;

describe('proxy step-up for writing tools', () => {
  let chain: Chain;
  let mcp: string;
  let passwordOnly: string;
  let secondFactor: string;

  beforeAll(async () => {
    chain = await startChain({
      route: { writeSignIn: 'mfa', writeSignInMaxAge: MAX_AGE, readOnlyTools: ['read_notes'] },
    });
    mcp = `${chain.proxy.url}/mcp`;
    await chain.as.addUser('alice', PASSWORD);
    await chain.as.addUser('tess', PASSWORD);
    passwordOnly = (await obtainToken(chain.as, chain.resource, { username: 'alice' })).access;
    // tess turns on TOTP and signs in with password and code.
    const web = new WebClient(chain.as.url);
    expect((await web.signIn('tess')).status).toBe(303);
    const { secret } = await enrolTotp(web);
    const client = await register(chain.as.url, PUBLIC_CLIENT);
    const a = await startAuthorization(chain.as, client, { resource: chain.resource, scope: 'mcp:read mcp:write' });
    const step = await submit(chain.as, a, 'login', { username: 'tess', password: PASSWORD });
    await submit(chain.as, a, 'code', { pending: field(step.html, 'pending'), code: totpCode(secret, 1) });
    await consentAndRedeem(chain.as, client, a, chain.resource);
    secondFactor = a.accessToken ?? '';
  });
  afterEach(() => expectNoAuthorization(chain.upstream));
  afterAll(async () => {
    await chain?.close();
  });

  const post = (token: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(mcp, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify(body),
    });

  async function session(token: string): Promise<string> {
    const res = await post(token, INIT);
    expect(res.status).toBe(200);
    await res.text();
    const sid = res.headers.get('mcp-session-id') ?? '';
    const note = await post(token, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': sid });
    expect(note.status).toBe(202);
    return sid;
  }

  const call = (token: string, sid: string, name: string) =>
    post(
      token,
      { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name, arguments: { text: 'x' } } },
      { 'mcp-session-id': sid },
    );

  it('puts acr, amr and auth_time in the real tokens', () => {
    expect(decodeJwt(passwordOnly)).toMatchObject({ acr: ACR.password, amr: ['pwd'] });
    const claims = decodeJwt(secondFactor);
    expect(claims).toMatchObject({ acr: ACR.mfa, amr: ['pwd', 'otp', 'mfa'] });
    expect(typeof claims.auth_time).toBe('number');
  });

  it('challenges a password-only token on a writing tool, and lets it read', async () => {
    const sid = await session(passwordOnly);
    const before = chain.upstream.notes.length;
    const res = await call(passwordOnly, sid, 'add_note');
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer error="insufficient_user_authentication"/);
    expect(challenge).toContain(`acr_values="${acrValuesFor('mfa')}"`);
    expect(challenge).toContain(`max_age=${MAX_AGE}`);
    expect(challenge).toContain('resource_metadata="');
    await res.text();
    expect(chain.upstream.notes.length).toBe(before);
    const read = await call(passwordOnly, sid, 'read_notes');
    expect(read.status).toBe(200);
    await read.text();
  });

  it('lets a token from a sign-in with a second factor write', async () => {
    const sid = await session(secondFactor);
    const res = await call(secondFactor, sid, 'add_note');
    expect(res.status).toBe(200);
    await res.text();
  });

  it.each<[string, { acr?: unknown; auth_time?: number | undefined }, number]>([
    ['no acr', {}, 401],
    ['an acr we never issue', { acr: 'urn:example:gold' }, 401],
    ['acr as a number', { acr: 2 }, 401],
    ['a password sign-in', { acr: ACR.password }, 401],
    ['mfa without auth_time', { acr: ACR.mfa, auth_time: undefined }, 401],
    ['mfa signed in too long ago', { acr: ACR.mfa, auth_time: -(MAX_AGE + 60) }, 401],
    ['mfa, recent', { acr: ACR.mfa }, 200],
    ['a passkey, recent', { acr: ACR.phr }, 200],
  ])('%s on a writing tool: %s', async (_case, extra, status) => {
    const now = Math.floor(Date.now() / 1000);
    const claims = decodeJwt(passwordOnly);
    const { acr: _a, amr: _m, auth_time: _t, ...base } = claims;
    const auth = 'auth_time' in extra ? extra.auth_time : 0;
    const token = await forgeWithAsKey(chain.as, {
      ...base,
      iat: now,
      exp: now + 120,
      ...(extra.acr === undefined ? {} : { acr: extra.acr }),
      ...(auth === undefined ? {} : { auth_time: now + auth }),
    });
    const sid = await session(token);
    const res = await call(token, sid, 'add_note');
    expect(res.status).toBe(status);
    if (status === 401) {
      expect(res.headers.get('www-authenticate')).toContain('insufficient_user_authentication');
    }
    await res.text();
  });
});
