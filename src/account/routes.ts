// /account/*: sign-in for people (not agents) and the "Connected agents" page.

import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { createLifecycle } from '../grants/index.js';
import { redirectInApp } from '../web/base_path.js';
import { HttpError } from '../web/errors.js';
import { formField } from '../web/form_body.js';
import { createWebSessions, type SignedIn, safeNext, signedIn } from '../web/page_session.js';
import { checkedForm, pageErrors } from '../web/pages.js';
import type { RouteDeps } from '../web/route_deps.js';
import { startSso } from '../web/sso.js';
import { confirmRevoke, revokeOwnGrant, showConnectedAgents } from './connected_agents.js';
import { LOGIN_CSRF_SCOPE, showLogin, submitLogin } from './login.js';

/** The user's own pages: sign-in and "Connected agents". */
export function accountRoutes(deps: RouteDeps): Middleware {
  const sessions = createWebSessions(deps);
  const ops = createLifecycle(deps.stores, deps.audit);
  // Exact paths: requests arrive in one spelling (src/app/canonical_path.ts) and so must match one.
  const router = new Router({ sensitive: true, strict: true });
  const sessionForm = checkedForm(deps.csrf, (ctx) => (signedIn(ctx) as SignedIn).csrfScope);

  // Not signed in: back to the sign-in page, coming back here afterwards (for a POST, to the page).
  const requireSession = async (ctx: Context, next: Next) => {
    if (signedIn(ctx)) return next();
    redirectInApp(ctx, `/account/login?next=${encodeURIComponent(ctx.method === 'GET' ? ctx.path : '/account')}`);
  };

  router.get('/account/login', (ctx) => {
    if (signedIn(ctx)) {
      return redirectInApp(ctx, safeNext(ctx.query.next));
    }
    showLogin(deps, ctx);
  });
  router.post(
    '/account/login',
    checkedForm(deps.csrf, () => LOGIN_CSRF_SCOPE),
    (ctx) => submitLogin(deps, sessions, ctx),
  );
  // Sign-in with an identity provider; it comes back to /sso/callback (src/interactions/sso.ts).
  router.post(
    '/account/sso/:name',
    checkedForm(deps.csrf, () => LOGIN_CSRF_SCOPE),
    async (ctx) => {
      const upstream = deps.upstream;
      const idp = upstream?.find(String(ctx.params.name));
      if (!upstream || !idp) throw new HttpError(404, 'invalid_request', 'There is no such identity provider here.');
      const sso = { issuer: deps.config.issuer, stores: deps.stores, audit: deps.audit, log: deps.log, upstream };
      await startSso(sso, ctx, idp, { kind: 'account', next: safeNext(formField(ctx.request.body, 'next')) });
    },
  );
  router.post('/account/logout', requireSession, sessionForm, (ctx) => {
    sessions.end(ctx);
    redirectInApp(ctx, '/account/login');
  });
  router.get('/account', requireSession, (ctx) => showConnectedAgents(deps, ctx, signedIn(ctx) as SignedIn));
  router.get('/account/grants/:id/revoke', requireSession, (ctx) =>
    confirmRevoke(deps, ctx, signedIn(ctx) as SignedIn),
  );
  router.post('/account/grants/:id/revoke', requireSession, sessionForm, (ctx) =>
    revokeOwnGrant(deps, ops, ctx, signedIn(ctx) as SignedIn),
  );

  const routes = router.routes() as Middleware;
  const errors = pageErrors(deps.views, deps.csrf, deps.log);
  return async (ctx, next) => {
    if (ctx.path !== '/account' && !ctx.path.startsWith('/account/')) return next();
    await errors(ctx, () => sessions.load(ctx, () => routes(ctx, next)));
  };
}
