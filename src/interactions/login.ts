// The sign-in step of an authorization: a password (then a TOTP or recovery code when the user
// has one or the request needs it), or a passkey. What the request needs comes from
// src/provider/sign_in_policy.ts; the result tells oidc-provider how the user signed in (acr, amr),
// which ends up in the agent's access token.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import { type Audit, requestSource } from '../audit/index.js';
import { ACR, AMR, type Strength } from '../lib/sign_in_strength.js';
import type { Logger } from '../log/logger.js';
import { neededStrength, type SecondFactorPolicy } from '../provider/sign_in_policy.js';
import type { FactorRepository } from '../storage/factors.js';
import type { ResourceRepository } from '../storage/resources.js';
import type { User, UserRepository } from '../storage/users.js';
import { baseOf } from '../web/base_path.js';
import type { Csrf } from '../web/csrf.js';
import {
  hasTotp,
  PASSKEY_PAGE_CSP,
  parseCredential,
  passkeySignInOptions,
  type RelyingParty,
  verifyPasskeySignIn,
} from '../web/factors.js';
import { formField } from '../web/form_body.js';
import type { PendingSignIns } from '../web/pending_sign_in.js';
import type { LoginThrottle } from '../web/rate_limit.js';
import { type SignInMethod, signedIn, signIn, signInSecondFactor } from '../web/sign_in.js';
import { PASSWORD_LOGIN_OFF, type SignInOptions } from '../web/sso.js';
import type { Views } from '../web/views.js';
import { describeClient } from './context.js';

export interface LoginDeps {
  audit: Audit;
  provider: () => Provider;
  users: UserRepository;
  resources: ResourceRepository;
  views: Views;
  csrf: Csrf;
  log: Logger;
  loginThrottle: LoginThrottle;
  factors: FactorRepository;
  pending: PendingSignIns;
  rp: RelyingParty;
  secondFactor: SecondFactorPolicy;
  /** The password form and identity-provider buttons the page offers (password only when absent). */
  signInOptions?: SignInOptions;
}

const challengeScope = (uid: string) => `interaction:${uid}`;
const pendingScope = (uid: string) => `interaction:${uid}`;

async function needed(deps: LoginDeps, details: Interaction, accountId?: string): Promise<Strength | undefined> {
  return neededStrength(deps, details.params as Record<string, unknown>, accountId);
}

export async function showLogin(
  deps: LoginDeps,
  ctx: Context,
  details: Interaction,
  extra: { error?: string; username?: string; status?: number } = {},
) {
  const client = await describeClient(deps.provider(), details);
  const strength = await needed(deps, details, details.session?.accountId);
  const options = await passkeySignInOptions(deps.factors, deps.rp, challengeScope(details.uid));
  ctx.set('Content-Security-Policy', PASSKEY_PAGE_CSP);
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
      stronger: strength === 'password' ? undefined : strength,
      passwordAllowed: strength !== 'phr' && (deps.signInOptions?.password ?? true),
      passwordLogin: deps.signInOptions?.password ?? true,
      identityProviders: deps.signInOptions?.providers ?? [],
      passkeyOptions: JSON.stringify(options),
    },
    extra.status ?? 200,
  );
}

function showCode(deps: LoginDeps, ctx: Context, details: Interaction, pending: string, error?: string, status = 200) {
  deps.views.render(
    ctx,
    'login_code.njk',
    {
      title: 'Sign in',
      action: `${baseOf(ctx)}/interaction/${details.uid}/code`,
      csrf: deps.csrf.issue(ctx, details.uid),
      pending,
      error,
      abort: `${baseOf(ctx)}/interaction/${details.uid}/abort`,
    },
    status,
  );
}

export async function submitLogin(deps: LoginDeps, ctx: Context, details: Interaction): Promise<void> {
  const body = ctx.request.body;
  const username = (formField(body, 'username') ?? '').trim();
  const password = formField(body, 'password') ?? '';
  if (deps.signInOptions?.password === false)
    return showLogin(deps, ctx, details, { error: PASSWORD_LOGIN_OFF, status: 403 });
  if ((await needed(deps, details)) === 'phr') {
    return showLogin(deps, ctx, details, { error: 'Sign in with a passkey: this agent asks for one.', status: 400 });
  }
  const clientId = String(details.params.client_id ?? '') || null;
  // The second step is asked of whoever set up TOTP, and of whoever the request needs it from.
  const needsMore = async (user: User) =>
    (await hasTotp(deps.factors, user.id)) || (await needed(deps, details, user.id)) === 'mfa';
  const result = await signIn(deps, ctx, username, password, { clientId }, needsMore);
  if (!result.ok) {
    if (result.retryAfter) ctx.set('Retry-After', String(result.retryAfter));
    return showLogin(deps, ctx, details, { error: result.error, username, status: result.status });
  }
  if (result.complete) return finish(deps, ctx, result.user, 'password');
  if (await hasTotp(deps.factors, result.user.id)) {
    return showCode(deps, ctx, details, await deps.pending.issue(result.user, pendingScope(details.uid)));
  }
  // Needed, but nothing to ask for: a passkey, if the user has one, or the account page first.
  await deps.audit.record({
    event: 'login.failure',
    result: 'failure',
    userId: result.user.id,
    clientId,
    ...requestSource(ctx),
    details: { reason: 'second_factor_missing' },
  });
  const error =
    (await deps.factors.passkeys(result.user.id)).length > 0
      ? 'This sign-in needs more than a password: sign in with your passkey.'
      : 'This sign-in needs a second factor. Set up an authenticator app or a passkey on your account page (/account/security) first.';
  return showLogin(deps, ctx, details, { error, username, status: 403 });
}

export async function submitCode(deps: LoginDeps, ctx: Context, details: Interaction): Promise<void> {
  const body = ctx.request.body;
  const pending = formField(body, 'pending');
  const user = await deps.pending.verify(pending, pendingScope(details.uid));
  if (!user || typeof pending !== 'string') {
    return showLogin(deps, ctx, details, { error: 'That sign-in took too long. Start again.', status: 400 });
  }
  const clientId = String(details.params.client_id ?? '') || null;
  const result = await signInSecondFactor(deps, ctx, user, formField(body, 'code') ?? '', { clientId });
  if (!result.ok) {
    if (result.retryAfter) ctx.set('Retry-After', String(result.retryAfter));
    return showCode(deps, ctx, details, pending, result.error, result.status);
  }
  return finish(deps, ctx, user, result.method);
}

export async function submitPasskey(deps: LoginDeps, ctx: Context, details: Interaction): Promise<void> {
  const clientId = String(details.params.client_id ?? '') || null;
  const response = parseCredential<Parameters<typeof verifyPasskeySignIn>[3]>(
    formField(ctx.request.body, 'credential'),
  );
  const passkey = response && (await verifyPasskeySignIn(deps.factors, deps.rp, challengeScope(details.uid), response));
  const user = passkey && (await deps.users.findById(passkey.userId));
  if (!user || user.disabled) {
    await deps.audit.record({
      event: 'login.failure',
      result: 'failure',
      userId: user ? user.id : null,
      clientId,
      ...requestSource(ctx),
      details: { reason: user ? 'disabled' : 'passkey_refused' },
    });
    return showLogin(deps, ctx, details, { error: 'That passkey cannot sign in here.', status: 401 });
  }
  await signedIn(deps, ctx, user, 'passkey', { clientId });
  return finish(deps, ctx, user, 'passkey');
}

/** Hands the sign-in to oidc-provider with how it was done. */
async function finish(deps: LoginDeps, ctx: Context, user: User, method: SignInMethod): Promise<void> {
  const acr = method === 'passkey' ? ACR.phr : method === 'password' ? ACR.password : ACR.mfa;
  const to = await deps
    .provider()
    .interactionResult(
      ctx.req,
      ctx.res,
      { login: { accountId: user.id, acr, amr: [...AMR[method]] } },
      { mergeWithLastSubmission: false },
    );
  ctx.status = 303;
  ctx.redirect(to);
}
