// Drives the OAuth flow over real HTTP the way an agent and a user's browser would, without a
// browser: a cookie jar, manual redirects, and form posts with the page's CSRF token.
import { createHash, randomBytes } from 'node:crypto';

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

export class CookieBrowser {
  private readonly jar = new Map<string, string>();

  private store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  private cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(url: string): Promise<Response> {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: this.cookieHeader(), accept: 'text/html' } });
    this.store(res);
    return res;
  }

  async post(url: string, fields: Record<string, string | string[]>): Promise<Response> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const item of [v].flat()) body.append(k, item);
    const res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        cookie: this.cookieHeader(),
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'text/html',
      },
      body,
    });
    this.store(res);
    return res;
  }

  /** Follows redirects while they stay on `origin`; returns the last response and its URL. */
  async follow(res: Response, url: string, origin: string): Promise<{ res: Response; url: string }> {
    let current = res;
    let at = url;
    for (let i = 0; i < 10 && current.status >= 300 && current.status < 400; i++) {
      const next = new URL(current.headers.get('location') ?? '', at).href;
      if (new URL(next).origin !== origin) return { res: current, url: next };
      at = next;
      current = await this.get(next);
    }
    return { res: current, url: at };
  }
}

export function csrfOf(html: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error('no csrf token on the page');
  return match[1];
}

export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  registration_access_token?: string;
  registration_client_uri?: string;
  [key: string]: unknown;
}

export async function register(base: string, body: Record<string, unknown>): Promise<RegisteredClient> {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as RegisteredClient;
}

export const PUBLIC_CLIENT = {
  client_name: 'Test Agent',
  redirect_uris: ['http://127.0.0.1:33418/callback'],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
};

export interface AuthorizeOptions {
  client: RegisteredClient;
  username: string;
  password: string;
  resource?: string | undefined;
  scope?: string | undefined;
  redirectUri?: string;
  /** Scopes to leave ticked on the consent page (default: all). */
  keep?: string[];
  /** Scopes the agent did not ask for, ticked too (posted as `extra_scope`). */
  extra?: string[];
  decision?: 'allow' | 'deny';
  browser?: CookieBrowser;
}

export interface AuthorizeResult {
  location: URL;
  code: string | null;
  state: string;
  verifier: string;
  browser: CookieBrowser;
  consentHtml?: string;
}

/** Runs /authorize → login → consent → redirect back, as the user in a browser. */
export async function authorize(base: string, opts: AuthorizeOptions): Promise<AuthorizeResult> {
  const browser = opts.browser ?? new CookieBrowser();
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(8).toString('hex');
  const redirectUri = opts.redirectUri ?? opts.client.redirect_uris[0] ?? '';
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: opts.client.client_id,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
  });
  if (opts.scope !== undefined) params.set('scope', opts.scope);
  if (opts.resource !== undefined) params.set('resource', opts.resource);
  let step = await browser.follow(await browser.get(`${base}/authorize?${params}`), `${base}/authorize`, base);
  let consentHtml: string | undefined;
  for (let i = 0; i < 4 && new URL(step.url).origin === base; i++) {
    const html = await step.res.text();
    if (step.res.status !== 200) throw new Error(`unexpected ${step.res.status} at ${step.url}: ${html.slice(0, 300)}`);
    const csrf = csrfOf(html);
    if (html.includes('name="password"')) {
      const res = await browser.post(`${step.url}/login`, { csrf, username: opts.username, password: opts.password });
      if (res.status !== 303) throw new Error(`login failed with ${res.status}`);
      step = await browser.follow(res, `${step.url}/login`, base);
    } else {
      consentHtml = html;
      const offered = [...html.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1] ?? '');
      const keep = opts.keep ?? offered;
      const res = await browser.post(`${step.url}/consent`, {
        csrf,
        decision: opts.decision ?? 'allow',
        scope: keep,
        ...(opts.extra && { extra_scope: opts.extra }),
      });
      if (res.status !== 303) throw new Error(`consent failed with ${res.status}`);
      step = await browser.follow(res, `${step.url}/consent`, base);
    }
  }
  const location = new URL(step.url);
  const result: AuthorizeResult = { location, code: location.searchParams.get('code'), state, verifier, browser };
  if (consentHtml !== undefined) result.consentHtml = consentHtml;
  return result;
}

export async function tokenRequest(base: string, fields: Record<string, string>, auth?: string): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (auth) headers.authorization = auth;
  return fetch(`${base}/token`, { method: 'POST', headers, body: new URLSearchParams(fields) });
}

export async function redeem(
  base: string,
  client: RegisteredClient,
  got: AuthorizeResult,
  extra: Record<string, string> = {},
) {
  const res = await tokenRequest(base, {
    grant_type: 'authorization_code',
    code: got.code ?? '',
    redirect_uri: `${got.location.origin}${got.location.pathname}`,
    code_verifier: got.verifier,
    client_id: client.client_id,
    ...extra,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
