// /account/login and its second steps: sign-in for the account and admin pages, with a password
// (then a TOTP or recovery code when the user has set one up) or a passkey.
import type { Context } from 'koa';
import { requestSource } from '../audit/index.js';
import { policyStrength } from '../provider/sign_in_policy.js';
import type { User } from '../storage/users.js';
import { baseOf, redirectInApp } from '../web/base_path.js';
import {
  hasTotp,
  PASSKEY_PAGE_CSP,
  parseCredential,
  passkeySignInOptions,
  relyingParty,
  verifyPasskeySignIn,
} from '../web/factors.js';
import { formField } from '../web/form_body.js';
import { safeNext, type WebSessions } from '../web/page_session.js';
import type { PendingSignIns } from '../web/pending_sign_in.js';
import type { RouteDeps } from '../web/route_deps.js';
import { signedIn, signIn, signInSecondFactor } from '../web/sign_in.js';
import { PASSWORD_LOGIN_OFF, signInOptions } from '../web/sso.js';

/** The CSRF scope of the sign-in forms, which come before any session. */
export const LOGIN_CSRF_SCOPE = 'account-login';
const CHALLENGE_SCOPE = 'account-login';
const PENDING_SCOPE = 'account';
const WHERE = { page: 'account' };

export async function showLogin(
  deps: RouteDeps,
  ctx: Context,
  extra: { next?: string; error?: string; username?: string; status?: number } = {},
): Promise<void> {
  const options = await passkeySignInOptions(deps.stores.factors, relyingParty(deps.config.issuer), CHALLENGE_SCOPE);
  const identityProviders = signInOptions(deps.config).providers;
  // With "Sign in with …" buttons this page's forms lead off-site, through whatever redirects the
  // provider makes, and browsers apply form-action to every redirect after a submission: then no
  // form-action (as on the agent's sign-in page, src/web/views.ts). Without them, 'self'.
  const forms = identityProviders.length > 0 ? '' : "; form-action 'self'";
  ctx.set('Content-Security-Policy', `${PASSKEY_PAGE_CSP}${forms}`);
  deps.views.render(
    ctx,
    'account_login.njk',
    {
      title: 'Sign in',
      csrf: deps.csrf.issue(ctx, LOGIN_CSRF_SCOPE),
      next: extra.next ?? safeNext(ctx.query.next),
      error: extra.error,
      username: extra.username ?? '',
      passwordAllowed: deps.config.sso.passwordLogin,
      passwordLogin: deps.config.sso.passwordLogin,
      identityProviders,
      passkeyOptions: JSON.stringify(options),
    },
    extra.status ?? 200,
  );
}

function showCode(deps: RouteDeps, ctx: Context, next: string, pending: string, error?: string, status = 200): void {
  deps.views.render(
    ctx,
    'login_code.njk',
    {
      title: 'Sign in',
      action: `${baseOf(ctx)}/account/login/code`,
      csrf: deps.csrf.issue(ctx, LOGIN_CSRF_SCOPE),
      pending,
      next,
      error,
    },
    status,
  );
}

/** Whether a password is not enough for this user here: a TOTP to ask for, or a passkey the policy wants. */
async function needsMore(deps: RouteDeps, user: User): Promise<boolean> {
  if (await hasTotp(deps.stores.factors, user.id)) return true;
  const wanted = policyStrength(deps.config.secondFactor, user, false);
  return wanted !== undefined && (await deps.stores.factors.passkeys(user.id)).length > 0;
}

export async function submitLogin(
  deps: RouteDeps,
  sessions: WebSessions,
  pending: PendingSignIns,
  ctx: Context,
): Promise<void> {
  const body = ctx.request.body;
  const next = safeNext(formField(body, 'next'));
  if (!deps.config.sso.passwordLogin) return showLogin(deps, ctx, { next, error: PASSWORD_LOGIN_OFF, status: 403 });
  const username = (formField(body, 'username') ?? '').trim();
  const password = formField(body, 'password') ?? '';
  const signInDeps = { users: deps.stores.users, audit: deps.audit, loginThrottle: deps.loginThrottle };
  const result = await signIn(signInDeps, ctx, username, password, WHERE, (user) => needsMore(deps, user));
  if (!result.ok) {
    if (result.retryAfter) ctx.set('Retry-After', String(result.retryAfter));
    return showLogin(deps, ctx, { next, username, error: result.error, status: result.status });
  }
  if (result.complete) return start(sessions, ctx, result.user, next);
  if (await hasTotp(deps.stores.factors, result.user.id)) {
    return showCode(deps, ctx, next, await pending.issue(result.user, PENDING_SCOPE));
  }
  await deps.audit.record({
    event: 'login.failure',
    result: 'failure',
    userId: result.user.id,
    ...requestSource(ctx),
    details: { reason: 'second_factor_missing', page: 'account' },
  });
  return showLogin(deps, ctx, {
    next,
    username,
    error: 'This sign-in needs more than a password: sign in with your passkey.',
    status: 403,
  });
}

export async function submitCode(
  deps: RouteDeps,
  sessions: WebSessions,
  pending: PendingSignIns,
  ctx: Context,
): Promise<void> {
  const body = ctx.request.body;
  const next = safeNext(formField(body, 'next'));
  const token = formField(body, 'pending');
  const user = await pending.verify(token, PENDING_SCOPE);
  if (!user || typeof token !== 'string') {
    return showLogin(deps, ctx, { next, error: 'That sign-in took too long. Start again.', status: 400 });
  }
  const signInDeps = {
    users: deps.stores.users,
    audit: deps.audit,
    loginThrottle: deps.loginThrottle,
    factors: deps.stores.factors,
  };
  const result = await signInSecondFactor(signInDeps, ctx, user, formField(body, 'code') ?? '', WHERE);
  if (!result.ok) {
    if (result.retryAfter) ctx.set('Retry-After', String(result.retryAfter));
    return showCode(deps, ctx, next, token, result.error, result.status);
  }
  await start(sessions, ctx, user, next);
}

export async function submitPasskey(deps: RouteDeps, sessions: WebSessions, ctx: Context): Promise<void> {
  const next = safeNext(formField(ctx.request.body, 'next'));
  const response = parseCredential<Parameters<typeof verifyPasskeySignIn>[3]>(
    formField(ctx.request.body, 'credential'),
  );
  const rp = relyingParty(deps.config.issuer);
  const passkey = response && (await verifyPasskeySignIn(deps.stores.factors, rp, CHALLENGE_SCOPE, response));
  const user = passkey && (await deps.stores.users.findById(passkey.userId));
  if (!user || user.disabled) {
    await deps.audit.record({
      event: 'login.failure',
      result: 'failure',
      userId: user ? user.id : null,
      ...requestSource(ctx),
      details: { reason: user ? 'disabled' : 'passkey_refused', page: 'account' },
    });
    return showLogin(deps, ctx, { next, error: 'That passkey cannot sign in here.', status: 401 });
  }
  await signedIn(
    { users: deps.stores.users, audit: deps.audit, loginThrottle: deps.loginThrottle },
    ctx,
    user,
    'passkey',
    WHERE,
  );
  await start(sessions, ctx, user, next);
}

async function start(sessions: WebSessions, ctx: Context, user: User, next: string): Promise<void> {
  await sessions.start(ctx, user);
  redirectInApp(ctx, next);
}
