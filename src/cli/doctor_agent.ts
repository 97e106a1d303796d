// The doctor as a complete agent with its test user (docs/operating.md#doctor): an authorization
// with PKCE through the real sign-in and consent pages, the code redeemed for tokens, refreshes,
// calls to an MCP server, and at the end everything it was given revoked. Token values stay in
// memory: no finding, message or log line carries one.
import { createHash, randomBytes } from 'node:crypto';
import { splitScope } from '../lib/scopes.js';
import type { DoctorBrowser, TestUser } from './doctor_browser.js';
import { type DoctorContext, describeFailure, str } from './doctor_checks.js';
import { isFailure, type ProbeResponse } from './doctor_probe.js';

export interface TestAgent {
  clientId: string;
  redirectUri: string;
  authorize: string;
  token: string;
  revocation: string | undefined;
  user: TestUser;
  browser: DoctorBrowser;
  /** Refresh tokens to revoke when the doctor is done (the live one of each chain). */
  live: Set<string>;
}

export interface Connection {
  resource: string;
  access: string;
  refresh: string | undefined;
  scopes: string[];
}

/** Why a connection could not be made; `atSignIn` when the sign-in page wanted more than the password. */
export interface NotConnected {
  failed: string;
  atSignIn: boolean;
}

export type Refreshed = { ok: true; access: string; refresh: string | undefined } | { ok: false; why: string };

/** The authorization request an agent sends, with a fresh PKCE pair and state. */
export function authorizationUrl(agent: TestAgent, params: Record<string, string>) {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const url = new URL(agent.authorize);
  const query = {
    response_type: 'code',
    client_id: agent.clientId,
    redirect_uri: agent.redirectUri,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    ...params,
  };
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return { url, verifier, state };
}

const tokenError = (res: ProbeResponse | { error: string }) => {
  if (isFailure(res)) return describeFailure(res);
  const description = str(res.json?.error_description);
  return `${describeFailure(res)}${description ? ` (${description})` : ''}`;
};

function tokenRequest(c: DoctorContext, agent: TestAgent, fields: Record<string, string>) {
  return c.probe.request(agent.token, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ client_id: agent.clientId, ...fields }).toString(),
  });
}

/**
 * Signs the test user in for `resource` (asking for `scope`, when given), consents to what the
 * page ticks, and redeems the code: the connection, or why it could not be made.
 */
export async function connect(
  c: DoctorContext,
  agent: TestAgent,
  resource: string,
  scope: string | undefined,
): Promise<Connection | NotConnected> {
  const { url, verifier, state } = authorizationUrl(agent, { resource, ...(scope ? { scope } : {}) });
  const outcome = await agent.browser.authorize(url, agent.redirectUri, agent.user);
  if ('stopped' in outcome) return { failed: outcome.stopped, atSignIn: outcome.signInSeen === true };
  const failed = (why: string): NotConnected => ({ failed: why, atSignIn: false });
  const back = outcome.redirect.searchParams;
  const error = back.get('error');
  if (error)
    return failed(
      `the authorization ended with error=${error}${back.get('error_description') ? `: ${back.get('error_description')}` : ''}`,
    );
  const code = back.get('code');
  if (!code || back.get('state') !== state)
    return failed('the redirect back to the agent has no code, or not its state');
  const res = await tokenRequest(c, agent, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: agent.redirectUri,
    code_verifier: verifier,
    resource,
  });
  const access = isFailure(res) ? undefined : str(res.json?.access_token);
  if (isFailure(res) || res.status !== 200 || !access) return failed(`redeeming the code: ${tokenError(res)}`);
  const refresh = str(res.json?.refresh_token);
  if (refresh) agent.live.add(refresh);
  return { resource, access, refresh, scopes: splitScope(str(res.json?.scope)) };
}

export async function refresh(c: DoctorContext, agent: TestAgent, token: string): Promise<Refreshed> {
  const res = await tokenRequest(c, agent, { grant_type: 'refresh_token', refresh_token: token });
  const access = isFailure(res) ? undefined : str(res.json?.access_token);
  if (isFailure(res) || res.status !== 200 || !access) return { ok: false, why: tokenError(res) };
  return { ok: true, access, refresh: str(res.json?.refresh_token) };
}

/** RFC 7009: revokes every chain the doctor still holds (the grant goes with it), then signs out. */
export async function disconnect(c: DoctorContext, agent: TestAgent, resource: string): Promise<void> {
  if (agent.revocation) {
    for (const token of agent.live) {
      await c.probe.request(agent.revocation, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'refresh_token', client_id: agent.clientId }).toString(),
      });
    }
  }
  agent.live.clear();
  await agent.browser.signOut(authorizationUrl(agent, { resource, prompt: 'consent' }).url);
}

/** Parameters of a WWW-Authenticate header; the first occurrence of each name wins. */
export function challengeParams(header: string | null): Record<string, string> {
  const params: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    const [, name = '', quoted, bare] = m;
    const key = name.toLowerCase();
    if (!(key in params)) params[key] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : (bare ?? '');
  }
  return params;
}
