// One password sign-in routine for both sign-in forms (the agent's /interaction login and the
// /account login of the account and admin pages): the same back-off, checked before the password
// and alike for unknown and known usernames, the same answers and the same audit records. Two
// copies had drifted before (one audited the page, the other the agent).
import type { Context } from 'koa';
import { type Audit, type AuditDetails, requestSource } from '../audit/index.js';
import { loginFailure } from '../audit/login_failure.js';
import { authenticate } from '../provider/accounts.js';
import type { User, UserRepository } from '../storage/users.js';
import { clientAddress, type LoginThrottle, throttledMessage } from './rate_limit.js';

export interface SignInDeps {
  users: UserRepository;
  audit: Audit;
  loginThrottle: LoginThrottle;
}

/** Where the sign-in happens, for the audit trail: the agent it is for, or the page. */
export interface SignInContext {
  clientId?: string | null;
  page?: string;
}

export type SignInResult =
  | { ok: true; user: User }
  | { ok: false; status: 400 | 401 | 429; error: string; retryAfter?: number };

export async function signIn(
  deps: SignInDeps,
  ctx: Context,
  username: string,
  password: string,
  where: SignInContext = {},
): Promise<SignInResult> {
  if (!username || !password) return { ok: false, status: 400, error: 'Enter your username and password.' };
  const clientId = where.clientId ?? null;
  const page: AuditDetails = where.page === undefined ? {} : { page: where.page };
  const attempt = await deps.loginThrottle.begin(username, clientAddress(ctx));
  if (attempt.retryAfter > 0) return throttled(attempt.retryAfter);
  // One answer for no such user, disabled user and wrong password (authenticate makes them alike);
  // the audit trail keeps the cause.
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
    deps.audit.record({
      event: 'login.failure',
      result: 'failure',
      clientId,
      userId: failure.userId,
      ...requestSource(ctx),
      details: { ...failure.details, ...page },
    });
    for (const block of started) {
      deps.audit.record({
        event: 'login.throttled',
        result: 'failure',
        clientId,
        userId: failure.userId,
        ...requestSource(ctx),
        details: {
          ...failure.details,
          ...page,
          scope: block.scope,
          failures: block.failures,
          block_seconds: block.blockSeconds,
        },
      });
    }
    const blockedFor = Math.max(0, ...started.map((b) => b.blockSeconds));
    if (blockedFor > 0) return throttled(blockedFor);
    return { ok: false, status: 401, error: 'Wrong username or password.' };
  }
  await attempt.succeeded();
  deps.audit.record({
    event: 'login.success',
    result: 'success',
    userId: user.id,
    clientId,
    ...requestSource(ctx),
    ...(where.page === undefined ? {} : { details: page }),
  });
  return { ok: true, user };
}

function throttled(seconds: number): SignInResult {
  return { ok: false, status: 429, error: throttledMessage(seconds), retryAfter: seconds };
}
