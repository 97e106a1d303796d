// /account/*: sign-in for people (not agents) and the "Connected agents" page.

import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { createLifecycle, LifecycleError } from '../grants/index.js';
import { redirectInApp } from '../web/base_path.js';
import { HttpError } from '../web/errors.js';
import { formField } from '../web/form_body.js';
import { createWebSessions, type SignedIn, safeNext, signedIn } from '../web/page_session.js';
import { checkedForm, pageErrors } from '../web/pages.js';
import { createPendingSignIns, type PendingSignIns } from '../web/pending_sign_in.js';
import type { RouteDeps } from '../web/route_deps.js';
import { startSso } from '../web/sso.js';
import { confirmRevoke, revokeOwnGrant, showConnectedAgents } from './connected_agents.js';
import { LOGIN_CSRF_SCOPE, showLogin, submitCode, submitLogin, submitPasskey } from './login.js';
import {
  addPasskey,
  changePassword,
  confirmTotp,
  newCodes,
  removePasskey,
  removeTotp,
  showSecurity,
  startTotp,
} from './security.js';

/** The user's own pages: sign-in and "Connected agents". */
export function accountRoutes(deps: RouteDeps): Middleware {
  const sessions = createWebSessions(deps);
  const ops = createLifecycle(deps.stores, deps.audit);
  // Exact paths: requests arrive in one spelling (src/app/canonical_path.ts) and so must match one.
  const router = new Router({ sensitive: true, strict: true });
  const sessionForm = checkedForm(deps.csrf, (ctx) => (signedIn(ctx) as SignedIn).csrfScope);
  // Loaded on first use: the key was made when the app was built (src/app/app.ts makes the agent
  // sign-in's, the same key), so this only reads it, and a refused sign-in still writes nothing.
  let pendingSignIns: PendingSignIns | undefined;
  const pending = async () => {
    pendingSignIns ??= await createPendingSignIns(deps.stores.sql, deps.stores.users);
    return pendingSignIns;
  };

  // Not signed in: back to the sign-in page, coming back here afterwards (for a POST, to the page).
  const requireSession = async (ctx: Context, next: Next) => {
    if (signedIn(ctx)) return next();
    redirectInApp(ctx, `/account/login?next=${encodeURIComponent(ctx.method === 'GET' ? ctx.path : '/account')}`);
  };

  router.get('/account/login', (ctx) => {
    if (signedIn(ctx)) {
      return redirectInApp(ctx, safeNext(ctx.query.next));
    }
    return showLogin(deps, ctx);
  });
  const loginForm = checkedForm(deps.csrf, () => LOGIN_CSRF_SCOPE);
  router.post('/account/login', loginForm, async (ctx) => submitLogin(deps, sessions, await pending(), ctx));
  router.post('/account/login/code', loginForm, async (ctx) => submitCode(deps, sessions, await pending(), ctx));
  router.post('/account/login/passkey', loginForm, (ctx) => submitPasskey(deps, sessions, ctx));
  // Sign-in with an identity provider; it comes back to /sso/callback (src/interactions/sso.ts).
  router.post('/account/sso/:name', loginForm, async (ctx) => {
    const upstream = deps.upstream;
    const idp = upstream?.find(String(ctx.params.name));
    if (!upstream || !idp) throw new HttpError(404, 'invalid_request', 'There is no such identity provider here.');
    const sso = { issuer: deps.config.issuer, stores: deps.stores, audit: deps.audit, log: deps.log, upstream };
    await startSso(sso, ctx, idp, { kind: 'account', next: safeNext(formField(ctx.request.body, 'next')) });
  });
  router.post('/account/logout', requireSession, sessionForm, async (ctx) => {
    await sessions.end(ctx);
    redirectInApp(ctx, '/account/login');
  });
  router.get('/account', requireSession, (ctx) => showConnectedAgents(deps, ctx, signedIn(ctx) as SignedIn));
  router.get('/account/grants/:id/revoke', requireSession, (ctx) =>
    confirmRevoke(deps, ctx, signedIn(ctx) as SignedIn),
  );
  router.post('/account/grants/:id/revoke', requireSession, sessionForm, (ctx) =>
    revokeOwnGrant(deps, ops, ctx, signedIn(ctx) as SignedIn),
  );

  // Sign-in and security: password, authenticator app, recovery codes, passkeys.
  const me = (ctx: Context) => signedIn(ctx) as SignedIn;
  router.get('/account/security', requireSession, (ctx) => showSecurity(deps, ctx, me(ctx)));
  router.post('/account/password', requireSession, sessionForm, (ctx) =>
    changePassword(deps, ops, sessions, ctx, me(ctx)),
  );
  router.post('/account/security/totp', requireSession, sessionForm, (ctx) => startTotp(deps, ops, ctx, me(ctx)));
  router.post('/account/security/totp/confirm', requireSession, sessionForm, (ctx) =>
    confirmTotp(deps, ops, ctx, me(ctx)),
  );
  router.post('/account/security/totp/remove', requireSession, sessionForm, (ctx) =>
    removeTotp(deps, ops, sessions, ctx, me(ctx)),
  );
  router.post('/account/security/recovery-codes', requireSession, sessionForm, (ctx) =>
    newCodes(deps, ops, ctx, me(ctx)),
  );
  router.post('/account/security/passkeys', requireSession, sessionForm, (ctx) => addPasskey(deps, ops, ctx, me(ctx)));
  router.post('/account/security/passkeys/:id/remove', requireSession, sessionForm, (ctx) =>
    removePasskey(ops, sessions, ctx, me(ctx)),
  );

  const routes = router.routes() as Middleware;
  const errors = pageErrors(deps.views, deps.csrf, deps.log);
  return async (ctx, next) => {
    if (ctx.path !== '/account' && !ctx.path.startsWith('/account/')) return next();
    await errors(ctx, () =>
      sessions.load(ctx, async () => {
        try {
          await routes(ctx, next);
        } catch (err) {
          // A refused operation (a factor already there, say, from a second tab) is a page, not a 500.
          throw err instanceof LifecycleError ? new HttpError(409, 'invalid_request', err.message) : err;
        }
      }),
    );
  };
}
