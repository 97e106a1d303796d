// Cookies over https (docs/requirements.md#rfc-9700-security-best-current-practice): served behind
// a TLS-terminating proxy (MCP_OAUTH_ISSUER=https://…, MCP_OAUTH_TRUST_PROXY=true,
// X-Forwarded-Proto: https as the proxy sends it), every cookie is Secure, HttpOnly and SameSite,
// with the __Host- prefix where its path allows it (__Secure- otherwise); and a session id chosen
// or known by an attacker never survives a sign-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/app.js';
import { csrfOf, PUBLIC_CLIENT, pkcePair, register } from '../support/oauth.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const PASSWORD = 'correct horse battery';

interface SetCookie {
  name: string;
  value: string;
  attrs: Map<string, string>;
  line: string;
}

function parseSetCookie(line: string): SetCookie {
  const [pair = '', ...rest] = line.split(';');
  const eq = pair.indexOf('=');
  const attrs = new Map<string, string>();
  for (const part of rest) {
    const [k = '', ...v] = part.trim().split('=');
    attrs.set(k.toLowerCase(), v.join('='));
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attrs, line };
}

/** A browser talking to the server through a TLS-terminating proxy: https URLs, plain HTTP on the wire. */
class ProxiedBrowser {
  readonly jar = new Map<string, string>();
  readonly seen: SetCookie[] = [];
  constructor(private readonly base: string) {}

  private wire(url: string): string {
    const u = new URL(url, this.base);
    const local = new URL(this.base);
    if (u.host !== local.host) return u.href;
    return `${this.base}${u.pathname}${u.search}`;
  }

  isLocal(url: string): boolean {
    return new URL(url, this.base).host === new URL(this.base).host;
  }

  private async send(url: string, init: RequestInit): Promise<Response> {
    const res = await fetch(this.wire(url), {
      ...init,
      redirect: 'manual',
      headers: {
        ...(init.headers as Record<string, string>),
        'x-forwarded-proto': 'https',
        'x-forwarded-for': '203.0.113.9',
        accept: 'text/html',
        cookie: [...this.jar].map(([k, v]) => `${k}=${v}`).join('; '),
      },
    });
    for (const line of res.headers.getSetCookie()) {
      const c = parseSetCookie(line);
      this.seen.push(c);
      if (c.value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.jar.delete(c.name);
      else this.jar.set(c.name, c.value);
    }
    return res;
  }

  get(url: string) {
    return this.send(url, {});
  }

  post(url: string, fields: Record<string, string | string[]>) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const item of [v].flat()) body.append(k, item);
    return this.send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  }

  async follow(res: Response, url: string): Promise<{ res: Response; url: string }> {
    let current = res;
    let at = url;
    for (let i = 0; i < 10 && current.status >= 300 && current.status < 400; i++) {
      const next = new URL(current.headers.get('location') ?? '', new URL(at, this.base)).href;
      if (!this.isLocal(next)) return { res: current, url: next };
      at = next;
      current = await this.get(next);
    }
    return { res: current, url: at };
  }
}

describe('cookies over https behind a trusted proxy', () => {
  let server: TestServer;
  let clientId: string;
  beforeAll(async () => {
    server = await startTestServer({ MCP_OAUTH_ISSUER: 'https://auth.example.test', MCP_OAUTH_TRUST_PROXY: 'true' });
    await server.addUser('alice', PASSWORD);
    await server.addUser('mallory', PASSWORD);
    await server.addResource(RESOURCE, 'Orders DB');
    clientId = (await register(server.url, PUBLIC_CLIENT)).client_id;
  });
  afterAll(() => server.close());

  /** /authorize → sign-in → consent → back to the agent, in `browser`. Returns the agent's callback URL. */
  async function authorizeAs(browser: ProxiedBrowser, username: string, prompt?: string): Promise<URL> {
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: PUBLIC_CLIENT.redirect_uris[0] ?? '',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      state: 'st',
      resource: RESOURCE,
    });
    if (prompt) params.set('prompt', prompt);
    let step = await browser.follow(await browser.get(`/authorize?${params}`), '/authorize');
    for (let i = 0; i < 4 && browser.isLocal(step.url); i++) {
      const html = await step.res.text();
      expect(step.res.status, html.slice(0, 2000)).toBe(200);
      const csrf = csrfOf(html);
      const action = html.includes('name="password"') ? 'login' : 'consent';
      const fields: Record<string, string | string[]> =
        action === 'login'
          ? { csrf, username, password: PASSWORD }
          : {
              csrf,
              decision: 'allow',
              scope: [...html.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1] ?? ''),
            };
      const res = await browser.post(`${new URL(step.url).pathname}/${action}`, fields);
      expect(res.status).toBe(303);
      step = await browser.follow(res, `${new URL(step.url).pathname}/${action}`);
    }
    return new URL(step.url);
  }

  async function accountSignIn(browser: ProxiedBrowser, username: string): Promise<number> {
    const page = await browser.get('/account/login');
    const res = await browser.post('/account/login', {
      csrf: csrfOf(await page.text()),
      username,
      password: PASSWORD,
      next: '/account',
    });
    return res.status;
  }

  it('sets only Secure, HttpOnly, SameSite cookies with the __Host- or __Secure- prefix', async () => {
    const browser = new ProxiedBrowser(server.url);
    const back = await authorizeAs(browser, 'alice');
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(await accountSignIn(browser, 'alice')).toBe(303);
    const names = new Set(browser.seen.map((c) => c.name));
    // The provider's session and interaction cookies, the CSRF cookie and the account session all appeared.
    for (const expected of [
      '__Host-session',
      '__Secure-interaction',
      '__Secure-interaction_resume',
      '__Host-mcp_csrf',
    ]) {
      expect(names).toContain(expected);
    }
    expect(names).toContain('__Host-mcp_account');
    for (const c of browser.seen) {
      expect(c.name, c.line).toMatch(/^__(Host|Secure)-/);
      expect(c.attrs.has('secure'), c.line).toBe(true);
      expect(c.attrs.has('httponly'), c.line).toBe(true);
      expect(c.attrs.get('samesite'), c.line).toMatch(/^(lax|strict)$/);
      if (c.name.startsWith('__Host-')) {
        // RFC 6265bis §4.1.3.2: __Host- cookies must have Path=/ and no Domain.
        expect(c.attrs.get('path'), c.line).toBe('/');
        expect(c.attrs.has('domain'), c.line).toBe(false);
      }
    }
    // The provider's own cookies are SameSite=Lax so the redirect back from an agent carries them.
    expect(browser.seen.find((c) => c.name === '__Host-session')?.attrs.get('samesite')).toBe('lax');
  });

  it('never adopts a session id the browser brings: a planted one is replaced at sign-in', async () => {
    const browser = new ProxiedBrowser(server.url);
    browser.jar.set('__Host-session', 'planted-by-attacker');
    browser.jar.set('__Host-mcp_account', 'planted-by-attacker-too');
    expect((await authorizeAs(browser, 'alice')).searchParams.get('code')).toBeTruthy();
    expect(await accountSignIn(browser, 'alice')).toBe(303);
    expect(browser.jar.get('__Host-session')).toBeTruthy();
    expect(browser.jar.get('__Host-session')).not.toBe('planted-by-attacker');
    expect(browser.jar.get('__Host-mcp_account')).toBeTruthy();
    expect(browser.jar.get('__Host-mcp_account')).not.toBe('planted-by-attacker-too');
  });

  it('a new provider session id at every sign-in: the id known before sign-in is retired', async () => {
    const browser = new ProxiedBrowser(server.url);
    expect((await authorizeAs(browser, 'alice')).searchParams.get('code')).toBeTruthy();
    const before = browser.jar.get('__Host-session') ?? '';
    expect(before).not.toBe('');
    // Signing in again in the same browser (prompt=login) must not keep the id an attacker could know.
    expect((await authorizeAs(browser, 'alice', 'login')).searchParams.get('code')).toBeTruthy();
    const after = browser.jar.get('__Host-session') ?? '';
    expect(after).not.toBe('');
    expect(after).not.toBe(before);
    const row = (id: string) => server.sql.get("SELECT id FROM oidc_models WHERE model = 'Session' AND id = ?", [id]);
    expect(await row(before)).toBeUndefined();
    expect(await row(after)).toBeDefined();
  });

  it('an account session id the attacker planted is retired when the victim signs in: fixation gets nothing', async () => {
    const attacker = new ProxiedBrowser(server.url);
    expect(await accountSignIn(attacker, 'mallory')).toBe(303);
    const fixed = attacker.jar.get('__Host-mcp_account') ?? '';
    expect(fixed).not.toBe('');
    // The victim has the sign-in form open when the attacker's cookie lands in their browser.
    const victim = new ProxiedBrowser(server.url);
    const form = await victim.get('/account/login');
    victim.jar.set('__Host-mcp_account', fixed);
    const signIn = await victim.post('/account/login', {
      csrf: csrfOf(await form.text()),
      username: 'alice',
      password: PASSWORD,
      next: '/account',
    });
    expect(signIn.status).toBe(303);
    expect(victim.jar.get('__Host-mcp_account')).toBeTruthy();
    expect(victim.jar.get('__Host-mcp_account')).not.toBe(fixed);
    // The id the attacker kept leads nowhere: the account page asks for sign-in.
    const page = await attacker.get('/account');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toMatch(/\/account\/login/);
    const mine = await victim.get('/account');
    expect(mine.status).toBe(200);
    expect(await mine.text()).toContain('alice');
  });
});
