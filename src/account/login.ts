// /account/login and /account/logout: password sign-in for the account and admin pages.
import type { Context } from 'koa';
import { requestSource } from '../audit/index.js';
import { loginFailure } from '../audit/login_failure.js';
import { authenticate } from '../provider/accounts.js';
import { redirectInApp } from '../web/base_path.js';
import { formField } from '../web/form_body.js';
import { safeNext, type WebSessions } from '../web/page_session.js';
import { clientAddress, throttledMessage } from '../web/rate_limit.js';
import type { RouteDeps } from '../web/route_deps.js';
import { PASSWORD_LOGIN_OFF, signInOptions } from '../web/sso.js';

/** The CSRF scope of the sign-in form, which comes before any session. */
export const LOGIN_CSRF_SCOPE = 'account-login';

export function showLogin(
  deps: RouteDeps,
  ctx: Context,
  extra: { next?: string; error?: string; username?: string; status?: number } = {},
): void {
  const identityProviders = signInOptions(deps.config).providers;
  // With "Sign in with …" buttons this page's forms lead off-site: the provider's sign-in, through
  // whatever redirects it makes. Browsers apply form-action to every redirect after a submission,
  // so form-action 'self' would strand the user (as on the agent's sign-in page, src/web/views.ts).
  if (identityProviders.length > 0) {
    ctx.set(
      'Content-Security-Policy',
      "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
  }
  deps.views.render(
    ctx,
    'account_login.njk',
    {
      title: 'Sign in',
      csrf: deps.csrf.issue(ctx, LOGIN_CSRF_SCOPE),
      next: extra.next ?? safeNext(ctx.query.next),
      error: extra.error,
      username: extra.username ?? '',
      passwordLogin: deps.config.sso.passwordLogin,
      identityProviders,
    },
    extra.status ?? 200,
  );
}

export async function submitLogin(deps: RouteDeps, sessions: WebSessions, ctx: Context): Promise<void> {
  const body = ctx.request.body;
  const next = safeNext(formField(body, 'next'));
  if (!deps.config.sso.passwordLogin) return showLogin(deps, ctx, { next, error: PASSWORD_LOGIN_OFF, status: 403 });
  const username = (formField(body, 'username') ?? '').trim();
  const password = formField(body, 'password') ?? '';
  if (!username || !password) {
    return showLogin(deps, ctx, { next, username, error: 'Enter your username and password.', status: 400 });
  }
  // The same back-off as the agent sign-in page, sharing its counters (src/web/rate_limit.ts),
  // checked before the password and alike for unknown and known usernames.
  const address = clientAddress(ctx);
  const attempt = await deps.loginThrottle.begin(username, address);
  if (attempt.retryAfter > 0) return throttled(deps, ctx, next, username, attempt.retryAfter);
  // One answer for no such user, disabled user and wrong password (authenticate makes them alike);
  // the audit trail keeps the cause.
  let user: Awaited<ReturnType<typeof authenticate>>;
  try {
    user = await authenticate(deps.stores.users, username, password);
  } catch (err) {
    attempt.release();
    throw err;
  }
  if (!user) {
    const started = await attempt.failed();
    const failure = loginFailure(deps.stores.users, username);
    deps.audit.record({
      event: 'login.failure',
      result: 'failure',
      userId: failure.userId,
      ...requestSource(ctx),
      details: { ...failure.details, page: 'account' },
    });
    for (const block of started) {
      deps.audit.record({
        event: 'login.throttled',
        result: 'failure',
        userId: failure.userId,
        ...requestSource(ctx),
        details: {
          ...failure.details,
          page: 'account',
          scope: block.scope,
          failures: block.failures,
          block_seconds: block.blockSeconds,
        },
      });
    }
    const blockedFor = Math.max(0, ...started.map((b) => b.blockSeconds));
    if (blockedFor > 0) return throttled(deps, ctx, next, username, blockedFor);
    return showLogin(deps, ctx, { next, username, error: 'Wrong username or password.', status: 401 });
  }
  await attempt.succeeded();
  sessions.start(ctx, user);
  deps.audit.record({
    event: 'login.success',
    result: 'success',
    userId: user.id,
    ...requestSource(ctx),
    details: { page: 'account' },
  });
  redirectInApp(ctx, next);
}

function throttled(deps: RouteDeps, ctx: Context, next: string, username: string, seconds: number): void {
  ctx.set('Retry-After', String(seconds));
  showLogin(deps, ctx, { next, username, error: throttledMessage(seconds), status: 429 });
}
