import type { Middleware } from 'koa';
import type { RouteDeps } from '../http/route_deps.js';

/** The admin console (pages) and the admin JSON API. */
export function adminRoutes(_deps: RouteDeps): Middleware {
  return async (_ctx, next) => next();
}
