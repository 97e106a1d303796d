// The OAuth steps the benchmark needs before it measures anything: register an agent, sign a user
// in and consent in a browser-like cookie jar, and mint codes and refresh tokens. Works against our
// server (login and consent pages with CSRF tokens) and against the bare-provider baseline (whose
// interaction page signs in and consents at once).
import { createHash, randomBytes } from 'node:crypto';

// A web agent's callback (like https://claude.ai/api/mcp/auth_callback). Native agents (loopback
// or custom-scheme redirects) are shown the consent page on every authorization, by oidc-provider's
// `native_client_prompt` check (RFC 8252 §8.6), so only a web agent can come back without one.
export const REDIRECT_URI = 'https://agent.example.com/callback';
export const SCOPE = 'mcp:read mcp:write';

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

export class CookieJar {
  jar = new Map();

  store(res) {
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

  header() {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(url) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: this.header(), accept: 'text/html' } });
    this.store(res);
    return res;
  }

  async post(url, fields) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const item of [v].flat()) body.append(k, item);
    const res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: this.header(), 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body,
    });
    this.store(res);
    return res;
  }

  /** Follows redirects while they stay on `origin`; returns the last response and its URL. */
  async follow(res, url, origin) {
    let current = res;
    let at = url;
    for (let i = 0; i < 10 && current.status >= 300 && current.status < 400; i++) {
      const next = new URL(current.headers.get('location') ?? '', at).href;
      if (new URL(next).origin !== origin) return { res: current, url: next };
      await current.body?.cancel();
      at = next;
      current = await this.get(next);
    }
    return { res: current, url: at };
  }
}

export function csrfOf(html) {
  const match = /name="csrf" value="([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error('no csrf token on the page');
  return match[1];
}

export async function registerClient(base, name = 'Bench Agent') {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: name,
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }),
  });
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return res.json();
}

export function authorizeQuery({ clientId, resource, challenge, state = randomBytes(8).toString('hex') }) {
  return new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: SCOPE,
    resource,
    state,
  }).toString();
}

/**
 * /authorize as a browser: signs in and consents when asked (our pages), or lets the baseline's
 * interaction page do both. Returns the code and its PKCE verifier; the jar keeps the session.
 */
export async function authorize(base, { jar, clientId, resource, username, password }) {
  const { verifier, challenge } = pkcePair();
  let step = await jar.follow(
    await jar.get(`${base}/authorize?${authorizeQuery({ clientId, resource, challenge })}`),
    `${base}/authorize`,
    base,
  );
  for (let i = 0; i < 4 && new URL(step.url).origin === base; i++) {
    const html = await step.res.text();
    if (step.res.status !== 200) throw new Error(`unexpected ${step.res.status} at ${step.url}: ${html.slice(0, 300)}`);
    const csrf = csrfOf(html);
    const isLogin = html.includes('name="password"');
    const action = isLogin ? 'login' : 'consent';
    const fields = isLogin
      ? { csrf, username, password }
      : { csrf, decision: 'allow', scope: [...html.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1] ?? '') };
    const res = await jar.post(`${step.url}/${action}`, fields);
    if (res.status !== 303) throw new Error(`${action} failed with ${res.status}: ${(await res.text()).slice(0, 300)}`);
    step = await jar.follow(res, `${step.url}/${action}`, base);
  }
  const location = new URL(step.url);
  const code = location.searchParams.get('code');
  if (!code) throw new Error(`no code in the redirect: ${location.search.slice(0, 200)}`);
  return { code, verifier };
}

export async function tokenRequest(base, fields) {
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export function redeem(base, clientId, { code, verifier }) {
  return tokenRequest(base, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
    client_id: clientId,
  });
}

/**
 * `count` fresh token responses from already consented sessions: one request at a time per
 * session (several /authorize requests at once on one browser session race on the session row).
 */
export async function mintTokens(base, { jars, clientId, resource }, count) {
  const out = [];
  let left = count;
  const worker = async (jar) => {
    while (left > 0) {
      left--;
      out.push(await redeem(base, clientId, await authorize(base, { jar, clientId, resource })));
    }
  };
  await Promise.all(jars.map(worker));
  return out;
}

/** One signed-in, consented browser session per entry, for agents that come back. */
export async function consentedSessions(base, { clientId, resource, username, password }, count) {
  const sessions = [];
  for (let i = 0; i < count; i++) {
    const jar = new CookieJar();
    const got = await authorize(base, { jar, clientId, resource, username, password });
    const tokens = await redeem(base, clientId, got);
    sessions.push({ jar, tokens });
  }
  return sessions;
}
