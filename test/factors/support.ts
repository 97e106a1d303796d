// Helpers of the sign-in factor tests: enrolling TOTP through the account page, codes computed
// from the shared secret, and an authorization driven step by step (password, code, consent).
import { randomBytes } from 'node:crypto';
import { generateSync } from 'otplib';
import type { WebClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { CookieBrowser, csrfOf, pkcePair, type RegisteredClient, redeem } from '../support/oauth.js';

/** A TOTP code for `secret`, `offset` periods of 30 s from now. */
export function totpCode(secret: string, offset = 0): string {
  return generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + offset * 30 });
}

export function field(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m?.[1]) throw new Error(`no ${name} field on the page`);
  return m[1];
}

/** Turns on TOTP for the signed-in `web` client; returns the secret and the recovery codes shown. */
export async function enrolTotp(web: WebClient): Promise<{ secret: string; codes: string[] }> {
  const { csrf } = await web.page('/account/security');
  const started = await web.post('/account/security/totp', { csrf });
  const html = await started.text();
  if (started.status !== 200) throw new Error(`enrolment did not start: ${started.status}`);
  const secret = /id="totp-secret">([A-Z2-7]+)</.exec(html)?.[1];
  if (!secret) throw new Error('no secret on the page');
  const confirmed = await web.post('/account/security/totp/confirm', { csrf: csrfOf(html), code: totpCode(secret) });
  const shown = await confirmed.text();
  if (confirmed.status !== 200) throw new Error(`enrolment not confirmed: ${confirmed.status}`);
  const codes = [...shown.matchAll(/<li><code>([a-z0-9-]{19})<\/code><\/li>/g)].map((m) => m[1] ?? '');
  return { secret, codes };
}

export interface Authorization {
  browser: CookieBrowser;
  /** The URL of the interaction page the browser is on. */
  url: string;
  html: string;
  status: number;
  verifier: string;
  state: string;
  /** The access token once consentAndRedeem has run. */
  accessToken?: string;
}

/** Starts an authorization and follows it to the first page of ours (sign-in or consent). */
export async function startAuthorization(
  server: TestServer,
  client: RegisteredClient,
  params: Record<string, string> = {},
  browser = new CookieBrowser(),
): Promise<Authorization> {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(8).toString('hex');
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: client.redirect_uris[0] ?? '',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    ...params,
  });
  const step = await browser.follow(
    await browser.get(`${server.url}/authorize?${query}`),
    `${server.url}/authorize`,
    server.url,
  );
  return { browser, url: step.url, html: await step.res.text(), status: step.res.status, verifier, state };
}

/** Posts a form of the interaction (`login`, `code`, `consent`) and follows to the next page or the agent. */
export async function submit(
  server: TestServer,
  a: Authorization,
  action: string,
  fields: Record<string, string | string[]>,
): Promise<{ res: Response; url: string; html: string; status: number; location: URL }> {
  const res = await a.browser.post(`${a.url}/${action}`, { csrf: csrfOf(a.html), ...fields });
  if (res.status !== 303) {
    const html = await res.text();
    return { res, url: a.url, html, status: res.status, location: new URL(a.url) };
  }
  const step = await a.browser.follow(res, `${a.url}/${action}`, server.url);
  const html = new URL(step.url).origin === server.url ? await step.res.text() : '';
  if (new URL(step.url).origin === server.url) {
    a.url = step.url;
    a.html = html;
  }
  return { res: step.res, url: step.url, html, status: step.res.status, location: new URL(step.url) };
}

/** Allows every offered scope on the consent page and redeems the code; returns the access token's claims. */
export async function consentAndRedeem(
  server: TestServer,
  client: RegisteredClient,
  a: Authorization,
  resource: string,
): Promise<Record<string, unknown>> {
  const offered = [...a.html.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1] ?? '');
  if (offered.length === 0) throw new Error(`not on the consent page: ${a.html.slice(0, 200)}`);
  const back = await submit(server, a, 'consent', { decision: 'allow', scope: offered });
  const code = back.location.searchParams.get('code');
  if (!code) throw new Error(`no code: ${back.url}`);
  const { status, body } = await redeem(
    server.url,
    client,
    { location: back.location, code, state: a.state, verifier: a.verifier, browser: a.browser },
    { resource },
  );
  if (status !== 200) throw new Error(`token request failed: ${status} ${JSON.stringify(body)}`);
  a.accessToken = String(body.access_token);
  const [, payload = ''] = String(body.access_token).split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}
