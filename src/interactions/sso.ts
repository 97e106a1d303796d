// Sign-in with an identity provider from the agent's login page: POST /interaction/:uid/sso/:name
// sends the browser to the provider; GET /sso/callback (one fixed redirect URI, registered at the
// provider) finishes the flow for both sign-in forms: the agent's interaction continues with the
// user signed in, or the account pages get a session.

import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Interaction } from 'oidc-provider';
import { requestSource } from '../audit/index.js';
import { epochSeconds } from '../lib/duration.js';
import type { Upstream } from '../provider/upstream.js';
import { baseOf } from '../web/base_path.js';
import { HttpError } from '../web/errors.js';
import { createWebSessions, safeNext } from '../web/page_session.js';
import type { RouteDeps } from '../web/route_deps.js';
import { finishSso, SSO_CALLBACK_PATH, type SsoDeps, startSso } from '../web/sso.js';

export function ssoDeps(deps: RouteDeps, upstream: Upstream): SsoDeps {
  return { issuer: deps.config.issuer, stores: deps.stores, audit: deps.audit, log: deps.log, upstream };
}

/** The login step of an agent's authorization, handed to the provider named in the URL. */
export async function startInteractionSso(
  deps: SsoDeps,
  ctx: Context,
  details: Interaction,
  name: string,
): Promise<void> {
  const idp = deps.upstream.find(name);
  if (!idp) throw new HttpError(404, 'invalid_request', 'There is no such identity provider here.');
  await startSso(deps, ctx, idp, { kind: 'interaction', uid: details.uid });
}

export function ssoRoutes(deps: RouteDeps, upstream: Upstream): Middleware {
  const sso = ssoDeps(deps, upstream);
  const sessions = createWebSessions(deps);
  const router = new Router({ sensitive: true, strict: true });

  router.get(SSO_CALLBACK_PATH, async (ctx: Context) => {
    const done = await finishSso(sso, ctx);
    const via = done.provider.name;
    if (done.target.kind === 'account') {
      await sessions.start(ctx, done.user);
      await deps.audit.record({
        event: 'login.success',
        result: 'success',
        userId: done.user.id,
        ...requestSource(ctx),
        details: { page: 'account', via },
      });
      // The page session cookie is SameSite=Strict, and this request came from the provider's
      // site: a redirect would arrive without it. A page of ours moving on is same-site.
      const next = `${baseOf(ctx)}${safeNext(done.target.next)}`;
      deps.views.render(ctx, 'sso_continue.njk', { title: 'Sign in', next });
      return;
    }
    const interaction = await deps.provider().Interaction.find(done.target.uid);
    if (interaction?.prompt.name !== 'login') {
      throw new HttpError(
        400,
        'session_not_found',
        'This sign-in link has expired or was opened in a different browser. Start again from the agent.',
      );
    }
    // What provider.interactionResult does, for an interaction whose cookie (scoped to its own
    // path) this callback cannot see; the signed flow cookie binds it to this browser instead.
    // amr "fed": the user was authenticated by a federated identity provider.
    interaction.result = { login: { accountId: done.user.id, amr: ['fed'] } };
    await interaction.save(interaction.exp - epochSeconds());
    await deps.audit.record({
      event: 'login.success',
      result: 'success',
      userId: done.user.id,
      clientId: String(interaction.params.client_id ?? '') || null,
      ...requestSource(ctx),
      details: { via },
    });
    ctx.status = 303;
    ctx.redirect(interaction.returnTo);
  });

  return router.routes() as Middleware;
}
