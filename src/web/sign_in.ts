// One sign-in routine for both sign-in forms (the agent's /interaction login and the /account
// login of the account and admin pages): the same back-off, checked before the password and alike
// for unknown and known usernames, the same answers and the same audit records. Two copies had
// drifted before (one audited the page, the other the agent).
//
// A sign-in may take two steps: the password, then a second factor (src/web/factors.ts). The
// back-off counts wrong codes exactly like wrong passwords, and a right password alone does not
// clear the count (only a finished sign-in does), so knowing the password buys no extra guesses.
import type { Context } from 'koa';
import { type Audit, type AuditDetails, requestSource } from '../audit/index.js';
import { loginFailure } from '../audit/login_failure.js';
import type { AMR } from '../lib/sign_in_strength.js';
import { authenticate } from '../provider/accounts.js';
import type { FactorRepository } from '../storage/factors.js';
import type { User, UserRepository } from '../storage/users.js';
import { checkSecondFactor } from './factors.js';
import { clientAddress, type LoginAttempt, type LoginThrottle, throttledMessage } from './rate_limit.js';

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

/** How the sign-in was finished: the method names of AMR (src/lib/sign_in_strength.ts). */
export type SignInMethod = keyof typeof AMR;

export type SignInResult =
  | { ok: true; user: User; complete: boolean }
  | { ok: false; status: 400 | 401 | 429; error: string; retryAfter?: number };

/**
 * The password step. With `needsMore(user)` true the sign-in is not finished: the caller asks for
 * the next step and nothing is recorded as a success yet.
 */
export async function signIn(
  deps: SignInDeps,
  ctx: Context,
  username: string,
  password: string,
  where: SignInContext = {},
  needsMore: (user: User) => Promise<boolean> | boolean = () => false,
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
    await attempt.release();
    throw err;
  }
  if (!user) {
    const failure = await loginFailure(deps.users, username);
    return failed(
      deps,
      ctx,
      attempt,
      clientId,
      failure.userId,
      { ...failure.details, ...page },
      'Wrong username or password.',
    );
  }
  if (await needsMore(user)) {
    await attempt.release();
    return { ok: true, user, complete: false };
  }
  await attempt.succeeded();
  await signedIn(deps, ctx, user, 'password', where);
  return { ok: true, user, complete: true };
}

/** The second step: a TOTP code or a recovery code of `user`, who gave the right password before. */
export async function signInSecondFactor(
  deps: SignInDeps & { factors: FactorRepository },
  ctx: Context,
  user: User,
  code: string,
  where: SignInContext = {},
): Promise<
  { ok: true; method: SignInMethod } | { ok: false; status: 400 | 401 | 429; error: string; retryAfter?: number }
> {
  if (!code.trim()) return { ok: false, status: 400, error: 'Enter the code from your authenticator app.' };
  const attempt = await deps.loginThrottle.begin(user.username, clientAddress(ctx));
  if (attempt.retryAfter > 0) return throttled(attempt.retryAfter);
  const current = await deps.users.findById(user.id);
  const method = current && !current.disabled ? await checkSecondFactor(deps.factors, user.id, code.trim()) : undefined;
  if (!method) {
    const page: AuditDetails = where.page === undefined ? {} : { page: where.page };
    const result = await failed(
      deps,
      ctx,
      attempt,
      where.clientId ?? null,
      user.id,
      { reason: 'wrong_second_factor', ...page },
      'That code is not right, or it was already used.',
    );
    return result as { ok: false; status: 401 | 429; error: string; retryAfter?: number };
  }
  await attempt.succeeded();
  await signedIn(deps, ctx, user, method, where);
  return { ok: true, method };
}

/** Records a finished sign-in (also one with a passkey, which has no password step). */
export async function signedIn(
  deps: SignInDeps,
  ctx: Context,
  user: User,
  method: SignInMethod,
  where: SignInContext,
): Promise<void> {
  await deps.audit.record({
    event: 'login.success',
    result: 'success',
    userId: user.id,
    clientId: where.clientId ?? null,
    ...requestSource(ctx),
    details: { method, ...(where.page === undefined ? {} : { page: where.page }) },
  });
}

async function failed(
  deps: SignInDeps,
  ctx: Context,
  attempt: LoginAttempt,
  clientId: string | null,
  userId: string | null,
  details: AuditDetails,
  message: string,
): Promise<SignInResult & { ok: false }> {
  const started = await attempt.failed();
  await deps.audit.record({
    event: 'login.failure',
    result: 'failure',
    clientId,
    userId,
    ...requestSource(ctx),
    details,
  });
  for (const block of started) {
    await deps.audit.record({
      event: 'login.throttled',
      result: 'failure',
      clientId,
      userId,
      ...requestSource(ctx),
      details: { ...details, scope: block.scope, failures: block.failures, block_seconds: block.blockSeconds },
    });
  }
  const blockedFor = Math.max(0, ...started.map((b) => b.blockSeconds));
  if (blockedFor > 0) return throttled(blockedFor);
  return { ok: false, status: 401, error: message };
}

function throttled(seconds: number): SignInResult & { ok: false } {
  return { ok: false, status: 429, error: throttledMessage(seconds), retryAfter: seconds };
}
