// /account/security: the signed-in user's own password, authenticator app (TOTP) with recovery
// codes, and passkeys. Changes go through the lifecycle operations (src/grants/factors.ts and
// ./users.ts) with the user as actor, so each is audited; a new password ends every other session.
// The TOTP secret and the recovery codes are shown once, in the answer to the POST that made them.

import type { Context } from 'koa';
import { type Lifecycle, LifecycleError, requestActor } from '../grants/index.js';
import type { Message } from '../i18n/translate.js';
import { msg } from '../i18n/translate.js';
import { hashPassword, passwordProblem } from '../lib/passwords.js';
import { redirectInApp } from '../web/base_path.js';
import { HttpError } from '../web/errors.js';
import {
  hasTotp,
  newRecoveryCodes,
  newTotpSecret,
  PASSKEY_PAGE_CSP,
  parseCredential,
  passkeyRegistrationOptions,
  relyingParty,
  totpStep,
  totpUri,
  verifyPasskeyRegistration,
} from '../web/factors.js';
import { formField } from '../web/form_body.js';
import { formatWhen } from '../web/grant_view.js';
import { pageUser, type SignedIn, type WebSessions } from '../web/page_session.js';
import type { RouteDeps } from '../web/route_deps.js';
import { signIn } from '../web/sign_in.js';

const NOTICES: Record<string, Message> = {
  'password-changed': msg('security.notice.passwordChanged'),
  'totp-removed': msg('security.notice.totpRemoved'),
  'passkey-added': msg('security.notice.passkeyAdded'),
  'passkey-removed': msg('security.notice.passkeyRemoved'),
  'factor-required': msg('security.notice.factorRequired'),
};

const registerScope = (who: SignedIn) => `passkey-register:${who.session.idHash}`;
const actor = (ctx: Context, who: SignedIn) => requestActor(ctx, 'user', who.user.id);

interface Extra {
  error?: string;
  status?: number;
  /** An enrolment waiting for its first code: the secret to type in, shown again until confirmed. */
  enrol?: { secret: string; uri: string };
  /** Recovery codes just made: shown this once. */
  codes?: string[];
}

export async function showSecurity(deps: RouteDeps, ctx: Context, who: SignedIn, extra: Extra = {}): Promise<void> {
  const { factors } = deps.stores;
  const userId = who.user.id;
  const options = await passkeyRegistrationOptions(
    factors,
    relyingParty(deps.config.issuer),
    who.user,
    registerScope(who),
  );
  // Every form here posts to this server and is answered here.
  ctx.set('Content-Security-Policy', `${PASSKEY_PAGE_CSP}; form-action 'self'`);
  const totp = await hasTotp(factors, userId);
  const codesLeft = totp ? await factors.recoveryCodesLeft(userId) : 0;
  const passkeys = await factors.passkeys(userId);
  deps.views.render(
    ctx,
    'account_security.njk',
    {
      title: 'Sign-in and security',
      section: 'security',
      user: pageUser(who.user),
      csrf: deps.csrf.issue(ctx, who.csrfScope),
      notice: NOTICES[String(ctx.query.notice)],
      error: extra.error,
      totp,
      codesLeft,
      enrol: extra.enrol,
      codes: extra.codes,
      passkeys: passkeys.map((p) => ({
        id: p.id,
        name: p.name,
        created: formatWhen(p.createdAt),
        lastUsed: formatWhen(p.lastUsedAt),
      })),
      required: deps.config.secondFactor === 'everyone' || (deps.config.secondFactor === 'admins' && who.user.isAdmin),
      registerOptions: JSON.stringify(options),
    },
    extra.status ?? 200,
  );
}

function back(ctx: Context, notice: string): void {
  redirectInApp(ctx, `/account/security?notice=${notice}`);
}

/**
 * The user's current password, checked under the same back-off as the sign-in forms (a session
 * left open on someone else's screen is not enough to change the account). False when it was not
 * right: the page is then answered here, with the reason.
 */
async function passwordConfirmed(deps: RouteDeps, ctx: Context, who: SignedIn, password: string): Promise<boolean> {
  const checked = await signIn(
    { users: deps.stores.users, audit: deps.audit, loginThrottle: deps.loginThrottle },
    ctx,
    who.user.username,
    password,
    { page: 'account' },
    () => true,
  );
  if (checked.ok) return true;
  if (checked.retryAfter) ctx.set('Retry-After', String(checked.retryAfter));
  const error = checked.status === 401 ? 'Your current password is not right.' : checked.error;
  await showSecurity(deps, ctx, who, { error, status: checked.status });
  return false;
}

export async function changePassword(
  deps: RouteDeps,
  ops: Lifecycle,
  sessions: WebSessions,
  ctx: Context,
  who: SignedIn,
): Promise<void> {
  const body = ctx.request.body;
  const current = formField(body, 'current') ?? '';
  const next = formField(body, 'password') ?? '';
  if (next !== (formField(body, 'repeat') ?? '')) {
    return showSecurity(deps, ctx, who, { error: 'The new passwords do not match.', status: 400 });
  }
  if (passwordProblem(next)) {
    return showSecurity(deps, ctx, who, {
      error: 'A password has at least 8 and at most 1024 characters.',
      status: 400,
    });
  }
  if (!(await passwordConfirmed(deps, ctx, who, current))) return;
  await ops.changePassword(actor(ctx, who), who.user, await hashPassword(next));
  // Every session ended with the change; this browser gets a new one.
  await sessions.start(ctx, who.user);
  back(ctx, 'password-changed');
}

export async function startTotp(deps: RouteDeps, ops: Lifecycle, ctx: Context, who: SignedIn): Promise<void> {
  if (await hasTotp(deps.stores.factors, who.user.id)) {
    throw new HttpError(409, 'invalid_request', 'An authenticator app is already set up.');
  }
  const secret = newTotpSecret();
  await ops.startTotp(actor(ctx, who), who.user, secret);
  return showSecurity(deps, ctx, who, { enrol: enrolment(deps, who, secret) });
}

function enrolment(deps: RouteDeps, who: SignedIn, secret: string) {
  return { secret, uri: totpUri(secret, who.user.username, deps.config.issuer) };
}

export async function confirmTotp(deps: RouteDeps, ops: Lifecycle, ctx: Context, who: SignedIn): Promise<void> {
  const pending = await deps.stores.factors.totp(who.user.id);
  if (!pending || pending.confirmed) {
    throw new HttpError(409, 'invalid_request', 'There is no authenticator app waiting to be confirmed.');
  }
  const code = (formField(ctx.request.body, 'code') ?? '').replace(/\s/g, '');
  const step = totpStep(pending.secret, code, 0);
  if (step === undefined) {
    return showSecurity(deps, ctx, who, {
      error: 'That code is not right. Check the time on your phone and try the next code.',
      status: 400,
      enrol: enrolment(deps, who, pending.secret),
    });
  }
  const { codes, hashes } = newRecoveryCodes();
  if (!(await ops.confirmTotp(actor(ctx, who), who.user, step, hashes))) {
    throw new HttpError(409, 'invalid_request', 'There is no authenticator app waiting to be confirmed.');
  }
  return showSecurity(deps, ctx, who, { codes });
}

export async function removeTotp(
  deps: RouteDeps,
  ops: Lifecycle,
  sessions: WebSessions,
  ctx: Context,
  who: SignedIn,
): Promise<void> {
  // Taking away a factor asks for the password, as changing it does.
  if (!(await passwordConfirmed(deps, ctx, who, formField(ctx.request.body, 'current') ?? ''))) return;
  await ops.removeTotp(actor(ctx, who), who.user);
  // Every session ended with it; this browser gets a new one.
  await sessions.start(ctx, who.user);
  back(ctx, 'totp-removed');
}

export async function newCodes(deps: RouteDeps, ops: Lifecycle, ctx: Context, who: SignedIn): Promise<void> {
  if (!(await hasTotp(deps.stores.factors, who.user.id))) {
    throw new HttpError(409, 'invalid_request', 'Set up an authenticator app first.');
  }
  const { codes, hashes } = newRecoveryCodes();
  await ops.replaceRecoveryCodes(actor(ctx, who), who.user, hashes);
  return showSecurity(deps, ctx, who, { codes });
}

const PASSKEY_NAME = /^[^\p{Cc}]{1,64}$/u;

export async function addPasskey(deps: RouteDeps, ops: Lifecycle, ctx: Context, who: SignedIn): Promise<void> {
  const body = ctx.request.body;
  const name = (formField(body, 'name') ?? '').trim() || 'Passkey';
  if (!PASSKEY_NAME.test(name)) {
    return showSecurity(deps, ctx, who, { error: 'Give the passkey a name of at most 64 characters.', status: 400 });
  }
  const response = parseCredential<Parameters<typeof verifyPasskeyRegistration>[3]>(formField(body, 'credential'));
  const rp = relyingParty(deps.config.issuer);
  const credential =
    response && (await verifyPasskeyRegistration(deps.stores.factors, rp, registerScope(who), response));
  if (!credential) {
    return showSecurity(deps, ctx, who, { error: 'The passkey could not be registered. Try again.', status: 400 });
  }
  try {
    await ops.addPasskey(actor(ctx, who), who.user, { ...credential, name });
  } catch (err) {
    if (err instanceof LifecycleError)
      throw new HttpError(409, 'invalid_request', 'This passkey is already registered.');
    throw err;
  }
  back(ctx, 'passkey-added');
}

export async function removePasskey(ops: Lifecycle, sessions: WebSessions, ctx: Context, who: SignedIn): Promise<void> {
  if (!(await ops.removePasskey(actor(ctx, who), who.user, String(ctx.params.id)))) {
    throw new HttpError(404, 'not_found', 'There is no such passkey.');
  }
  await sessions.start(ctx, who.user);
  back(ctx, 'passkey-removed');
}
