// /admin (the console) and /admin/api (the JSON API), both for admins only.
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { pageErrors } from '../account/pages.js';
import { createWebSessions } from '../account/session.js';
import type { RouteDeps } from '../http/route_deps.js';
import { apiEnvelope, apiHandlers, requireApiCaller } from './api.js';
import { consoleForm, consoleHandlers, type RouteTable, requireAdminPage } from './console.js';
import { createOperations } from './operations.js';

/** A router with one route per table entry ("METHOD /path"), each behind `before` (and `form` for POSTs). */
function routerFor<K extends string>(table: RouteTable<K>, before: Middleware[], form?: Middleware): Middleware {
  const router = new Router();
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
  const ops = createOperations(deps.stores, deps.audit);
  const api = routerFor(apiHandlers(deps, ops), []);
  const pages = routerFor(consoleHandlers(deps, ops), [requireAdminPage()], consoleForm(deps));
  const envelope = apiEnvelope(deps);
  const auth = requireApiCaller(deps);
  const errors = pageErrors(deps.views, deps.csrf, deps.log);

  return async (ctx, next) => {
    const path = ctx.path;
    if (path === '/admin/api' || path.startsWith('/admin/api/')) {
      return envelope(ctx, () => sessions.load(ctx, () => auth(ctx, () => api(ctx, async () => {}))));
    }
    if (path !== '/admin' && !path.startsWith('/admin/')) return next();
    await errors(ctx, () => sessions.load(ctx, () => pages(ctx, next)));
  };
}
