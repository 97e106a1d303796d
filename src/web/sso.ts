// Sign-in with the organisation's identity provider, for both sign-in forms (the agent's
// /interaction login and the /account login): the relying-party half of an OpenID Connect code
// flow with PKCE, state and nonce (openid-client checks them, the `iss` of the response, RFC 9207,
// and the ID token), then the provider's policy and the link to one of our users.
//
// The flow's secrets live in one signed, HttpOnly cookie that only this browser has: it is set in
// answer to a CSRF-checked form of this browser, and the callback reads it back, so a response
// from another browser's sign-in (login CSRF) finds no matching state.
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import { type Audit, requestSource } from '../audit/index.js';
import type { IdentityProvider } from '../config/index.js';
import { groupOperations } from '../grants/groups.js';
import type { Logger } from '../log/logger.js';
import { applyAdminRole, judgeClaims, type Upstream } from '../provider/upstream.js';
import { NO_PASSWORD } from '../storage/identities.js';
import type { Stores } from '../storage/index.js';
import { type User, UserExistsError, usernameProblem } from '../storage/users.js';
import { HttpError } from './errors.js';

export { NO_PASSWORD } from '../storage/identities.js';

export const SSO_CALLBACK_PATH = '/sso/callback';
const FLOW_SECONDS = 600;

/** Where the sign-in goes on: an agent's interaction, or the account and admin pages. */
export type SsoTarget = { kind: 'interaction'; uid: string } | { kind: 'account'; next: string };

interface Flow {
  provider: string;
  state: string;
  nonce: string;
  verifier: string;
  target: SsoTarget;
  expires: number;
}

export interface SsoDeps {
  issuer: string;
  stores: Stores;
  audit: Audit;
  log: Logger;
  upstream: Upstream;
}

const cookieName = (issuer: string) => (issuer.startsWith('https:') ? '__Host-mcp_sso' : 'mcp_sso');
const cookieOptions = (issuer: string) => ({
  // Lax: the provider sends the browser back with a top-level GET from its own site.
  httpOnly: true,
  sameSite: 'lax' as const,
  secure: issuer.startsWith('https:'),
  path: '/',
  signed: true,
  overwrite: true,
});

const PROVIDER_FAILED = 'The identity provider could not be reached. Try again later.';

/** Sends the browser to the identity provider. */
export async function startSso(deps: SsoDeps, ctx: Context, idp: IdentityProvider, target: SsoTarget): Promise<void> {
  let configuration: oidc.Configuration;
  try {
    configuration = await deps.upstream.client(idp);
  } catch (err) {
    deps.log.warn({ event: 'upstream.discovery_failed', provider: idp.name, err }, 'identity provider unreachable');
    throw new HttpError(503, 'temporarily_unavailable', PROVIDER_FAILED);
  }
  const flow: Flow = {
    provider: idp.name,
    state: oidc.randomState(),
    nonce: oidc.randomNonce(),
    verifier: oidc.randomPKCECodeVerifier(),
    target,
    expires: Math.floor(Date.now() / 1000) + FLOW_SECONDS,
  };
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: `${deps.issuer}${SSO_CALLBACK_PATH}`,
    scope: idp.scopes,
    state: flow.state,
    nonce: flow.nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(flow.verifier),
    code_challenge_method: 'S256',
  });
  ctx.cookies.set(cookieName(deps.issuer), Buffer.from(JSON.stringify(flow)).toString('base64url'), {
    ...cookieOptions(deps.issuer),
    maxAge: FLOW_SECONDS * 1000,
  });
  ctx.status = 303;
  ctx.redirect(url.href);
}

function readFlow(deps: SsoDeps, ctx: Context): Flow | undefined {
  const raw = ctx.cookies.get(cookieName(deps.issuer), { signed: true });
  // Used once: whatever happens next, this browser's flow is over.
  ctx.cookies.set(cookieName(deps.issuer), '', { ...cookieOptions(deps.issuer), maxAge: 0 });
  if (!raw || raw.length > 4096) return undefined;
  try {
    const flow = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Flow;
    return flow.expires > Date.now() / 1000 ? flow : undefined;
  } catch {
    return undefined;
  }
}

/** What the page says, by the cause the audit trail records. */
const REFUSALS: Record<string, string> = {
  expired: 'This sign-in expired or was started in another browser. Start again.',
  response: 'The identity provider did not sign you in. Start again.',
  email_unverified: 'Your identity provider did not confirm your email address, so you cannot sign in here.',
  email_domain: 'Your email domain is not allowed to sign in here.',
  group: 'Your account at the identity provider is not in a group allowed to sign in here.',
  no_account: 'There is no account here for you. Ask an administrator to add you.',
  username_taken: 'An account with your email address already exists here. Ask an administrator to link it.',
  disabled: 'Your account here is disabled. Ask an administrator.',
};

/** Why openid-client refused the response, for the audit trail (its messages name the check). */
function responseProblem(err: unknown): string {
  // openid-client wraps the check that failed (oauth4webapi's error) as the cause.
  const cause = (err as { cause?: unknown }).cause;
  const text = [err, cause].map((e) => (e instanceof Error ? e.message : '')).join(' ');
  for (const check of ['state', 'nonce', 'iss', 'aud', 'exp', 'code_verifier', 'signature']) {
    if (new RegExp(`\\b${check}\\b`).test(text)) return `response_${check}`;
  }
  const error = (err as { error?: unknown }).error;
  return typeof error === 'string' ? `response_${error.slice(0, 40)}` : 'response_invalid';
}

export type SsoResult = { ok: true; user: User; target: SsoTarget; provider: IdentityProvider };

/**
 * The provider sent the browser back: checks the response, the ID token and the policy, and finds
 * or makes the user. Every refusal is an HttpError with a page-ready message, recorded in the audit.
 */
export async function finishSso(deps: SsoDeps, ctx: Context): Promise<SsoResult> {
  const flow = readFlow(deps, ctx);
  const idp = flow && deps.upstream.find(flow.provider);
  const refuse = async (reason: string, status = 403, userId: string | null = null): Promise<never> => {
    await deps.audit.record({
      event: 'login.failure',
      result: 'failure',
      userId,
      ...requestSource(ctx),
      details: { via: flow?.provider ?? null, reason },
    });
    throw new HttpError(status, 'access_denied', REFUSALS[reason] ?? REFUSALS.response ?? '');
  };
  if (!flow || !idp) return refuse('expired', 400);

  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  try {
    const configuration = await deps.upstream.client(idp);
    // The URL the provider redirected to, rebuilt from our issuer (never from the Host header).
    const current = new URL(`${deps.issuer}${SSO_CALLBACK_PATH}`);
    current.search = ctx.querystring;
    tokens = await oidc.authorizationCodeGrant(configuration, current, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
  } catch (err) {
    return refuse(responseProblem(err), 400);
  }
  const claims = tokens.claims() as Record<string, unknown> & { sub: string };
  const verdict = judgeClaims(idp, claims);
  if (!verdict.ok) return refuse(verdict.reason);

  const { users, identities, sql } = deps.stores;
  const refreshToken = tokens.refresh_token ?? null;
  const linked = await identities.find(idp.issuer, claims.sub);
  let user: User | undefined;
  if (linked) {
    user = await users.findById(linked.userId);
    await identities.confirmed(idp.issuer, claims.sub, { email: verdict.email, refreshToken });
  } else {
    const made = await sql.transaction(() => linkOrCreate(deps, idp, claims.sub, verdict, refreshToken));
    if ('refused' in made) return refuse(made.refused);
    user = made.user;
    await deps.audit.record({
      event: made.created ? 'user.created' : 'user.identity_linked',
      result: 'success',
      userId: user.id,
      ...requestSource(ctx),
      details: { via: idp.name, by: 'system' },
    });
  }
  if (!user) return refuse('no_account');
  if (user.disabled) return refuse('disabled', 403, user.id);
  await applyAdminRole(users, deps.audit, user.id, verdict.isAdmin, idp.name);
  // The provider's group claim puts the user in the groups of the same names here (their policies apply).
  await groupOperations(deps.stores, deps.audit).syncUpstreamGroups(
    user.id,
    idp.issuer,
    idp.name,
    claims[idp.groupsClaim],
  );
  return { ok: true, user: (await users.findById(user.id)) as User, target: flow.target, provider: idp };
}

async function linkOrCreate(
  deps: SsoDeps,
  idp: IdentityProvider,
  subject: string,
  verdict: Extract<ReturnType<typeof judgeClaims>, { ok: true }>,
  refreshToken: string | null,
): Promise<{ user: User; created: boolean } | { refused: string }> {
  const { users, identities } = deps.stores;
  const link = (user: User) =>
    identities.link({
      issuer: idp.issuer,
      subject,
      provider: idp.name,
      userId: user.id,
      email: verdict.email,
      refreshToken,
    });
  // Email is a fallback only when the provider verified it: anyone can claim an address.
  const byEmail =
    idp.linkByEmail && verdict.emailVerified ? await users.findByUsername(verdict.email as string) : undefined;
  if (byEmail) {
    await link(byEmail);
    return { user: byEmail, created: false };
  }
  if (idp.accounts === 'existing') return { refused: 'no_account' };
  // A verified email makes a readable username; otherwise one derived from the upstream subject.
  const fromEmail = verdict.emailVerified && !usernameProblem(verdict.email as string) ? verdict.email : null;
  const username =
    fromEmail ?? `${idp.name}-${createHash('sha256').update(`${idp.issuer}\n${subject}`).digest('hex').slice(0, 12)}`;
  try {
    const user = await users.create(username, NO_PASSWORD, false);
    await link(user);
    return { user, created: true };
  } catch (err) {
    // Never linked silently to a local user of the same name: that user may be someone else.
    if (err instanceof UserExistsError) return { refused: 'username_taken' };
    throw err;
  }
}

/** What the sign-in pages offer: the password form, and a button per identity provider. */
export interface SignInOptions {
  password: boolean;
  providers: readonly { name: string; displayName: string }[];
}

export function signInOptions(config: {
  sso: { passwordLogin: boolean };
  identityProviders: readonly IdentityProvider[];
}): SignInOptions {
  return {
    password: config.sso.passwordLogin,
    providers: config.identityProviders.map((p) => ({ name: p.name, displayName: p.displayName })),
  };
}

export const PASSWORD_LOGIN_OFF = 'Password sign-in is turned off here. Sign in with your identity provider.';
