import type { Middleware } from 'koa';
import type { RouteDeps } from '../http/route_deps.js';

/** The user's own pages: sign-in and "Connected agents". */
export function accountRoutes(_deps: RouteDeps): Middleware {
  return async (_ctx, next) => next();
}
