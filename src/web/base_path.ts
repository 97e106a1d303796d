// An issuer with a path (https://host/auth): the server answers under that path, as a reverse proxy
// forwards it, and every link, form action, redirect and cookie path of our pages carries it.
// Routes inside the app keep matching the path without it (/authorize, /account); oidc-provider
// learns the mount from req.originalUrl (its OIDCContext.urlFor), so the URLs it builds have it too.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Middleware } from 'koa';

/** The issuer's path without a trailing slash: '' for an issuer at the root. */
export function basePath(issuer: string): string {
  return new URL(issuer).pathname.replace(/\/+$/, '');
}

/** The base path of this request ('' at the root): for links, form actions, redirects and cookie paths. */
export function baseOf(ctx: Context): string {
  return (ctx.state.basePath as string | undefined) ?? '';
}

/** Redirects to a path of this app (one that starts with '/', such as '/account'), under the base path. */
export function redirectInApp(ctx: Context, path: string): void {
  ctx.status = 303;
  ctx.redirect(`${baseOf(ctx)}${path}`);
}

/** The cookie path and whether the __Host- prefix is possible (it requires Path=/, RFC 6265bis §4.1.3.2). */
export function cookieScope(base: string): { path: string; hostPrefix: boolean } {
  return base ? { path: base, hostPrefix: false } : { path: '/', hostPrefix: true };
}

/** Puts the base path in ctx.state for the views, the cookies and the redirects. */
export function withBasePath(base: string): Middleware {
  return async (ctx, next) => {
    ctx.state.basePath = base;
    await next();
  };
}

const OAUTH_METADATA = '/.well-known/oauth-authorization-server';
const OIDC_DISCOVERY = '/.well-known/openid-configuration';
const ROOT_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The node request handler of an app mounted at `base`: a request under it goes on with the base
 * cut off (and the full URL in req.originalUrl); RFC 8414 §3's metadata URL for an issuer with a
 * path (/.well-known/oauth-authorization-server/auth) is served as the mounted metadata; anything
 * else is 404.
 */
export function mountAt(
  base: string,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  if (!base) return handler;
  return (req, res) => {
    const url = req.url ?? '/';
    const [path = '/', query] = splitQuery(url);
    let inner: string | undefined;
    if (path === base || path.startsWith(`${base}/`)) inner = path.slice(base.length) || '/';
    else if (path === `${OAUTH_METADATA}${base}`) inner = OAUTH_METADATA;
    // Probes and scrapes reach the process directly, not through the proxy's path.
    else if (ROOT_PATHS.has(path)) return handler(req, res);
    if (inner === undefined) {
      res.writeHead(404, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify({ error: 'not_found', error_description: 'nothing is served outside the issuer path' }));
      return;
    }
    // Both metadata names are one document (src/http/metadata.ts). Served here under the OpenID
    // name, because oidc-provider finds the mount by locating the inner URL in the original one.
    if (inner === OAUTH_METADATA) inner = OIDC_DISCOVERY;
    const rest = query === undefined ? inner : `${inner}?${query}`;
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = `${base}${rest}`;
    req.url = rest;
    handler(req, res);
  };
}

function splitQuery(url: string): [string, string | undefined] {
  const q = url.indexOf('?');
  return q < 0 ? [url, undefined] : [url.slice(0, q), url.slice(q + 1)];
}
