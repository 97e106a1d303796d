// /interaction/:uid — the login and consent steps oidc-provider hands to us.
import Router from '@koa/router';
import type { Context } from 'koa';
import { INTERACTION_PREFIX } from '../provider/index.js';
import { HttpError } from '../web/errors.js';
import { formBody } from '../web/form_body.js';
import type { SsoDeps } from '../web/sso.js';
import { type ConsentDeps, showConsent, submitConsent } from './consent.js';
import { loadInteraction } from './context.js';
import { showLogin, submitCode, submitLogin, submitPasskey } from './login.js';
import { startInteractionSso } from './sso.js';
import { switchAccount } from './switch_account.js';

const UID = /^[A-Za-z0-9_-]{1,64}$/;

export function interactionRoutes(deps: ConsentDeps, sso?: SsoDeps): Router {
  // Exact paths: requests arrive in one spelling (src/app/canonical_path.ts) and so must match one.
  const router = new Router({ prefix: INTERACTION_PREFIX, sensitive: true, strict: true });
  const form = formBody();

  const checkUid = async (ctx: Context, next: () => Promise<unknown>) => {
    if (!UID.test(String(ctx.params.uid))) throw new HttpError(400, 'invalid_request', 'malformed interaction id');
    await next();
  };

  const checkCsrf = async (ctx: Context, next: () => Promise<unknown>) => {
    if (!ctx.is('application/x-www-form-urlencoded'))
      throw new HttpError(415, 'invalid_request', 'forms must be url-encoded');
    const token = (ctx.request.body as Record<string, unknown> | undefined)?.csrf;
    if (!deps.csrf.verify(ctx, String(ctx.params.uid), token)) {
      throw new HttpError(
        403,
        'invalid_request',
        'the form expired or did not come from this site; go back to the agent and start again',
      );
    }
    await next();
  };

  router.get('/:uid', checkUid, async (ctx) => {
    const details = await loadInteraction(deps.provider(), ctx);
    if (details.prompt.name === 'login') return showLogin(deps, ctx, details);
    if (details.prompt.name === 'consent') return showConsent(deps, ctx, details);
    throw new HttpError(400, 'invalid_request', 'unsupported interaction');
  });

  router.post('/:uid/login', checkUid, form, checkCsrf, async (ctx) => {
    const details = await loadInteraction(deps.provider(), ctx);
    if (details.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', 'this step is already done');
    await submitLogin(deps, ctx, details);
  });

  router.post('/:uid/sso/:name', checkUid, form, checkCsrf, async (ctx) => {
    const details = await loadInteraction(deps.provider(), ctx);
    if (details.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', 'this step is already done');
    if (!sso) throw new HttpError(404, 'invalid_request', 'There is no such identity provider here.');
    await startInteractionSso(sso, ctx, details, String(ctx.params.name));
  });

  // The second step of a password sign-in, and a passkey instead of the password.
  router.post('/:uid/code', checkUid, form, checkCsrf, async (ctx) => {
    const details = await loadInteraction(deps.provider(), ctx);
    if (details.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', 'this step is already done');
    await submitCode(deps, ctx, details);
  });

  router.post('/:uid/passkey', checkUid, form, checkCsrf, async (ctx) => {
    const details = await loadInteraction(deps.provider(), ctx);
    if (details.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', 'this step is already done');
    await submitPasskey(deps, ctx, details);
  });

  router.post('/:uid/consent', checkUid, form, checkCsrf, async (ctx) => {
    const details = await loadInteraction(deps.provider(), ctx);
    if (details.prompt.name !== 'consent') throw new HttpError(400, 'invalid_request', 'sign in first');
    await submitConsent(deps, ctx, details);
  });

  // "Not you?": only from the consent step, where a session names someone.
  router.post('/:uid/switch-account', checkUid, form, checkCsrf, async (ctx) => {
    const details = await loadInteraction(deps.provider(), ctx);
    if (details.prompt.name !== 'consent') throw new HttpError(400, 'invalid_request', 'sign in first');
    await switchAccount(deps, ctx, details);
  });

  router.post('/:uid/abort', checkUid, form, checkCsrf, async (ctx) => {
    await loadInteraction(deps.provider(), ctx);
    const to = await deps.provider().interactionResult(ctx.req, ctx.res, {
      error: 'access_denied',
      error_description: 'the user cancelled the request',
    });
    ctx.status = 303;
    ctx.redirect(to);
  });

  return router;
}
