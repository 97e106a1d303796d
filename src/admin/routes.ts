// /admin (the console) and /admin/api (the JSON API), both for admins only.
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { createLifecycle, LifecycleError } from '../grants/index.js';
import { createWebSessions } from '../web/page_session.js';
import { pageErrors } from '../web/pages.js';
import type { RouteDeps } from '../web/route_deps.js';
import { apiEnvelope, apiHandlers, refusal, requireApiCaller } from './api.js';
import { consoleForm, consoleHandlers, type RouteTable, requireAdminPage } from './console.js';

/** A router with one route per table entry ("METHOD /path"), each behind `before` (and `form` for POSTs). */
function routerFor<K extends string>(table: RouteTable<K>, before: Middleware[], form?: Middleware): Middleware {
  // Exact paths: requests arrive in one spelling (src/app/canonical_path.ts) and so must match one.
  const router = new Router({ sensitive: true, strict: true });
  for (const [route, handler] of Object.entries(table) as [string, RouteTable<K>[K]][]) {
    const [method = '', path = ''] = route.split(' ');
    const chain = [...before, ...(method === 'POST' && form ? [form] : [])];
    router.register(path, [method], [...chain, (ctx: Context) => handler(ctx)] as never);
  }
  return router.routes() as Middleware;
}

/** The admin console (pages) and the admin JSON API. */
export function adminRoutes(deps: RouteDeps): Middleware {
  const sessions = createWebSessions(deps);
  const ops = createLifecycle(deps.stores, deps.audit);
  const api = routerFor(apiHandlers(deps, ops), []);
  const pages = routerFor(consoleHandlers(deps, ops), [requireAdminPage(deps)], consoleForm(deps));
  const envelope = apiEnvelope(deps);
  const auth = requireApiCaller(deps);
  const errors = pageErrors(deps.views, deps.csrf, deps.log);

  return async (ctx, next) => {
    const path = ctx.path;
    if (path === '/admin/api' || path.startsWith('/admin/api/')) {
      return envelope(ctx, () => sessions.load(ctx, () => auth(ctx, () => api(ctx, async () => {}))));
    }
    if (path !== '/admin' && !path.startsWith('/admin/')) return next();
    await errors(ctx, () =>
      sessions.load(ctx, async () => {
        try {
          await pages(ctx, next);
        } catch (err) {
          // A refused operation is a page with its reason (the last admin, one's own account).
          throw err instanceof LifecycleError ? refusal(err) : err;
        }
      }),
    );
  };
}
