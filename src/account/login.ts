// /account/login and /account/logout: password sign-in for the account and admin pages.
import type { Context } from 'koa';
import { requestSource } from '../audit/index.js';
import { loginFailure } from '../audit/login_failure.js';
import type { RouteDeps } from '../http/route_deps.js';
import { formField } from '../interactions/context.js';
import { authenticate } from '../provider/accounts.js';
import { safeNext, type WebSessions } from './session.js';

/** The CSRF scope of the sign-in form, which comes before any session. */
export const LOGIN_CSRF_SCOPE = 'account-login';

export function showLogin(
  deps: RouteDeps,
  ctx: Context,
  extra: { next?: string; error?: string; username?: string; status?: number } = {},
): void {
  deps.views.render(
    ctx,
    'account_login.njk',
    {
      title: 'Sign in',
      csrf: deps.csrf.issue(ctx, LOGIN_CSRF_SCOPE),
      next: extra.next ?? safeNext(ctx.query.next),
      error: extra.error,
      username: extra.username ?? '',
    },
    extra.status ?? 200,
  );
}

export async function submitLogin(deps: RouteDeps, sessions: WebSessions, ctx: Context): Promise<void> {
  const body = ctx.request.body;
  const next = safeNext(formField(body, 'next'));
  const username = (formField(body, 'username') ?? '').trim();
  const password = formField(body, 'password') ?? '';
  if (!username || !password) {
    return showLogin(deps, ctx, { next, username, error: 'Enter your username and password.', status: 400 });
  }
  // One answer for no such user, disabled user and wrong password (authenticate makes them alike);
  // the audit trail keeps the cause.
  const user = await authenticate(deps.stores.users, username, password);
  if (!user) {
    const failure = loginFailure(deps.stores.users, username);
    deps.audit.record({
      event: 'login.failure',
      result: 'failure',
      userId: failure.userId,
      ...requestSource(ctx),
      details: { ...failure.details, page: 'account' },
    });
    return showLogin(deps, ctx, { next, username, error: 'Wrong username or password.', status: 401 });
  }
  sessions.start(ctx, user);
  deps.audit.record({
    event: 'login.success',
    result: 'success',
    userId: user.id,
    ...requestSource(ctx),
    details: { page: 'account' },
  });
  ctx.status = 303;
  ctx.redirect(next);
}
