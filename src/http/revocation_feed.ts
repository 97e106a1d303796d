import type { Middleware } from 'koa';
import type { RouteDeps } from './route_deps.js';

/** The revocation feed for resource servers (pull with ?after= and a server-sent-events stream). */
export function revocationFeed(_deps: RouteDeps): Middleware {
  return async (_ctx, next) => next();
}
