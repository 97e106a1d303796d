// One route per protected MCP server: its public resource URI (whose path the proxy serves, matched
// exactly), its RFC 9728 metadata, its tool policy and a connection pool to its upstream.
import { Pool } from 'undici';
import type { ProxyConfig } from '../config/proxy.js';
import { DPOP_ALGORITHMS } from './dpop.js';
import type { Route } from './exchange.js';
import { createToolPolicy } from './policy.js';

export const WELL_KNOWN = '/.well-known/oauth-protected-resource';

export function buildRoutes(config: ProxyConfig): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const rc of config.routes) {
    const resource = new URL(rc.resource);
    const upstream = new URL(rc.upstream);
    const path = resource.pathname;
    const scopes = [...new Set([rc.readScope, rc.writeScope, ...rc.authRequestScopes])];
    routes.set(path, {
      config: rc,
      path,
      metadataUrl: `${resource.origin}${WELL_KNOWN}${path === '/' ? '' : path}`,
      scopes,
      metadata: JSON.stringify({
        resource: rc.resource,
        authorization_servers: [config.issuer],
        scopes_supported: scopes,
        bearer_methods_supported: ['header'],
        // RFC 9728 §2: DPoP proofs we verify, and whether a bearer token is refused here.
        dpop_signing_alg_values_supported: DPOP_ALGORITHMS,
        dpop_bound_access_tokens_required: rc.requireDpop,
      }),
      policy: createToolPolicy(rc),
      // No connection cap: every open event stream holds a connection, and a cap would let
      // long-lived streams starve new calls. Idle connections are kept alive and reused.
      pool: new Pool(upstream.origin, { connections: null, keepAliveTimeout: 30_000 }),
      upstreamPath: upstream.pathname,
    });
  }
  return routes;
}
