// The `route` label of request metrics: a route template from code, never the raw path, so the
// number of series stays bounded whatever URLs clients send.
import { HEALTH_PATH, READY_PATH } from './health.js';

const EXACT = new Set([
  HEALTH_PATH,
  READY_PATH,
  '/metrics',
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
  '/introspect',
  '/revocations',
  '/revocations/stream',
]);

const PREFIXES: [prefix: string, label: string][] = [
  // RFC 8414 §3.1: metadata for an issuer with a path is asked for below the well-known name.
  ['/.well-known/oauth-authorization-server/', '/.well-known/oauth-authorization-server/*'],
  ['/static/', '/static/*'],
];

/**
 * `path` is the path as requested (before any rewrite); `ctx._matchedRoute` is set by @koa/router
 * and by oidc-provider's router to the template of the route that handled the request.
 */
export function routeLabel(path: string, ctx: object): string {
  if (EXACT.has(path)) return path;
  const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched === 'string' && matched.startsWith('/')) return matched;
  for (const [prefix, label] of PREFIXES) if (path.startsWith(prefix)) return label;
  return 'other';
}
