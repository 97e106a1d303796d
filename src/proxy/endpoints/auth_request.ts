// nginx `auth_request`: nginx asks before it sends a request to the MCP server itself, passing the
// original request line in X-Original-URI ($request_uri: raw, not normalised). The same decision
// steps as the MCP route run (token, revocation, scopes); without the body, the route's
// authRequestScopes (default read + write) are demanded instead of per-tool scopes. A 2xx carries
// the verified identity for nginx to pass on. A 2026-07-28 request names its method and tool in
// headers (Mcp-Method, Mcp-Name): the audit line names them, but the decision stays on
// authRequestScopes, since only a reader of the body can check those headers (an upstream that
// speaks only 2025-11-25 ignores them and would run whatever the body says).
//
// The URI is matched exactly against the route paths, as the MCP route matches its own requests:
// nginx routes on its normalised path, so anything that normalises differently (a backslash,
// encoded dots or slashes, dot segments) could be allowed for one route and delivered to another.
// Those are refused with 403: nginx turns any answer other than 2xx, 401 or 403 into a 500.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { audit } from '../audit.js';
import type { ProxyContext } from '../context.js';
import { newExchange, type Route } from '../exchange.js';
import { subjectType } from '../headers.js';
import { compose, type Step } from '../pipeline.js';
import { headerNamed } from '../revision.js';
import { authenticate, requireScopes } from '../steps/authenticate.js';
import { requireUserAuthentication } from '../steps/user_authentication.js';

const SUSPICIOUS = /\\|%2e|%2f|%5c|%00/i;

/** The route and query an X-Original-URI names, or undefined when it names none exactly. */
export function resolveOriginalUri(
  routes: ReadonlyMap<string, Route>,
  original: string | string[] | undefined,
): { route: Route; search: string } | undefined {
  if (original === undefined) {
    // Without the header only a single route is unambiguous.
    const only = routes.size === 1 ? routes.values().next().value : undefined;
    return only ? { route: only, search: '' } : undefined;
  }
  if (typeof original !== 'string' || !original.startsWith('/')) return undefined;
  const q = original.indexOf('?');
  const path = q < 0 ? original : original.slice(0, q);
  if (SUSPICIOUS.test(path) || path.includes('#')) return undefined;
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) return undefined;
  const route = routes.get(path);
  return route ? { route, search: q < 0 ? '' : original.slice(q) } : undefined;
}

export function authRequestEndpoint(ctx: ProxyContext) {
  const names = ctx.config.identityHeaders;
  const allow: Step = async (x) => {
    const token = x.token;
    if (!token) throw new Error('auth_request allows only after authenticate');
    x.res
      .writeHead(204, {
        'cache-control': 'no-store',
        [names.subject]: token.sub,
        [names.clientId]: token.clientId,
        [names.scopes]: token.scope,
        [names.subjectType]: subjectType(token),
        'x-request-id': x.requestId,
      })
      .end();
  };
  const decide = compose([
    audit(ctx.log, ctx.metrics),
    authenticate(ctx),
    requireScopes,
    requireUserAuthentication(),
    allow,
  ]);

  return async (req: IncomingMessage, res: ServerResponse, requestId: string) => {
    const target = resolveOriginalUri(ctx.routes, req.headers['x-original-uri']);
    if (!target) {
      res.writeHead(403, { 'cache-control': 'no-store' }).end();
      return;
    }
    const { route, search } = target;
    const x = newExchange(req, res, {
      requestId,
      route,
      search,
      method: 'auth_request',
      needs: route.config.authRequestScopes,
    });
    const named = headerNamed(req.headers);
    if (named) {
      x.revision = 'modern';
      // For the audit line only (see above): what the headers say the request does.
      const message = { jsonrpc: '2.0', id: 0, method: named.method, params: { name: named.name } };
      const cls = named.method === undefined ? undefined : route.policy.classify(message);
      if (cls?.ok) x.calls = cls.calls.map((c) => ({ ...c, tool: c.method === 'tools/call' ? c.tool : undefined }));
    }
    await decide(x);
  };
}
