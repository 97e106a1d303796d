import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import { type Audit, requestSource } from '../audit/index.js';
import { loginFailure } from '../audit/login_failure.js';
import type { Logger } from '../log/logger.js';
import { authenticate } from '../provider/accounts.js';
import type { UserRepository } from '../storage/users.js';
import type { Csrf } from '../web/csrf.js';
import { formField } from '../web/form_body.js';
import { clientAddress, type LoginThrottle, throttledMessage } from '../web/rate_limit.js';
import { PASSWORD_LOGIN_OFF, type SignInOptions } from '../web/sso.js';
import type { Views } from '../web/views.js';
import { describeClient } from './context.js';

export interface LoginDeps {
  audit: Audit;
  provider: () => Provider;
  users: UserRepository;
  views: Views;
  csrf: Csrf;
  log: Logger;
  loginThrottle: LoginThrottle;
  /** The password form and identity-provider buttons the page offers (password only when absent). */
  signInOptions?: SignInOptions;
}

export async function showLogin(
  deps: LoginDeps,
  ctx: Context,
  details: Interaction,
  extra: { error?: string; username?: string; status?: number } = {},
) {
  const client = await describeClient(deps.provider(), details);
  deps.views.render(
    ctx,
    'login.njk',
    {
      title: 'Sign in',
      uid: details.uid,
      csrf: deps.csrf.issue(ctx, details.uid),
      clientName: client.name,
      clientVerified: client.verified,
      error: extra.error,
      username: extra.username ?? '',
      passwordLogin: deps.signInOptions?.password ?? true,
      identityProviders: deps.signInOptions?.providers ?? [],
    },
    extra.status ?? 200,
  );
}

export async function submitLogin(deps: LoginDeps, ctx: Context, details: Interaction): Promise<void> {
  if (deps.signInOptions?.password === false)
    return showLogin(deps, ctx, details, { error: PASSWORD_LOGIN_OFF, status: 403 });
  const body = ctx.request.body;
  const username = (formField(body, 'username') ?? '').trim();
  const password = formField(body, 'password') ?? '';
  if (!username || !password) {
    return showLogin(deps, ctx, details, { error: 'Enter your username and password.', username, status: 400 });
  }
  const clientId = String(details.params.client_id ?? '') || null;
  const address = clientAddress(ctx);
  // Checked before the password, and alike for unknown and known usernames.
  const attempt = await deps.loginThrottle.begin(username, address);
  if (attempt.retryAfter > 0) return throttled(deps, ctx, details, username, attempt.retryAfter);
  let user: Awaited<ReturnType<typeof authenticate>>;
  try {
    user = await authenticate(deps.users, username, password);
  } catch (err) {
    attempt.release();
    throw err;
  }
  if (!user) {
    const started = await attempt.failed();
    const failure = loginFailure(deps.users, username);
    deps.audit.record({ event: 'login.failure', result: 'failure', clientId, ...failure, ...requestSource(ctx) });
    for (const block of started) {
      deps.audit.record({
        event: 'login.throttled',
        result: 'failure',
        clientId,
        userId: failure.userId,
        ...requestSource(ctx),
        details: {
          ...failure.details,
          scope: block.scope,
          failures: block.failures,
          block_seconds: block.blockSeconds,
        },
      });
    }
    const blockedFor = Math.max(0, ...started.map((b) => b.blockSeconds));
    if (blockedFor > 0) return throttled(deps, ctx, details, username, blockedFor);
    return showLogin(deps, ctx, details, { error: 'Wrong username or password.', username, status: 401 });
  }
  await attempt.succeeded();
  deps.audit.record({ event: 'login.success', result: 'success', userId: user.id, clientId, ...requestSource(ctx) });
  const to = await deps
    .provider()
    .interactionResult(ctx.req, ctx.res, { login: { accountId: user.id } }, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(to);
}

function throttled(deps: LoginDeps, ctx: Context, details: Interaction, username: string, seconds: number) {
  ctx.set('Retry-After', String(seconds));
  return showLogin(deps, ctx, details, { error: throttledMessage(seconds), username, status: 429 });
}
