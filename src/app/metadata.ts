// Authorization server metadata at both well-known names (RFC 8414 §3 and OpenID Discovery), with
// scopes_supported taken from the registered resources at request time.
import type { Middleware } from 'koa';
import type { ResourceRepository } from '../storage/resources.js';
import { INTROSPECTION_PATH } from './introspection.js';

export const OIDC_DISCOVERY = '/.well-known/openid-configuration';
export const OAUTH_METADATA = '/.well-known/oauth-authorization-server';

// Members oidc-provider advertises for features this profile leaves off or does not promise.
const DROP = [
  'claims_supported',
  'claims_parameter_supported',
  'request_parameter_supported',
  'request_uri_parameter_supported',
];

export function metadata(resources: ResourceRepository, issuer: string): Middleware {
  return async (ctx, next) => {
    const alias = ctx.path === OAUTH_METADATA;
    if (!alias && ctx.path !== OIDC_DISCOVERY) return next();
    if (alias) ctx.path = OIDC_DISCOVERY;
    await next();
    if (alias) ctx.path = OAUTH_METADATA;
    if (ctx.status !== 200 || !ctx.body || typeof ctx.body !== 'object') return;
    const doc = ctx.body as Record<string, unknown>;
    for (const key of DROP) delete doc[key];
    doc.scopes_supported = [...(await resources.allScopes()), 'offline_access'];
    doc.code_challenge_methods_supported = ['S256'];
    doc.authorization_response_iss_parameter_supported = true;
    doc.introspection_endpoint = `${issuer}${INTROSPECTION_PATH}`;
    doc.introspection_endpoint_auth_methods_supported = ['client_secret_basic'];
  };
}
