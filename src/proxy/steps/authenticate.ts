// The access decision, shared by the MCP route and nginx's auth_request: a bearer token from the
// Authorization header only, verified locally (signature, iss, aud, exp, typ), checked against the
// revocation feed, then the scopes the exchange needs. Refusals follow RFC 6750 §3 and the MCP
// authorization spec: 401 with `resource_metadata` and `scope`, 403 `insufficient_scope` naming
// every scope needed, 503 while the proxy cannot know (no keys, stale feed).
import { parseBearer } from '../../lib/bearer.js';
import type { ProxyContext } from '../context.js';
import { deny, type Exchange, jsonRpcError, type Outcome, quote } from '../exchange.js';
import type { Step } from '../pipeline.js';
import { InvalidTokenError, KeysUnavailableError, type VerifiedToken } from '../verifier.js';

function refuse(x: Exchange, outcome: Outcome, status: number, error?: [string, string]): void {
  deny(x, outcome, () => {
    const headers: Record<string, string> = {};
    if (status === 401 || status === 400) {
      let h = `Bearer resource_metadata=${quote(x.route.metadataUrl)}, scope=${quote(x.route.config.readScope)}`;
      if (error) h += `, error=${quote(error[0])}, error_description=${quote(error[1])}`;
      headers['www-authenticate'] = h;
    }
    if (status === 503) headers['retry-after'] = '5';
    const message = error?.[1] ?? (status === 401 ? 'authorization required' : 'service unavailable');
    jsonRpcError(x.res, status, -32001, message, headers);
  });
}

const claimsOf = (t: VerifiedToken) => ({
  grant_id: t.grantId,
  sub: t.sub,
  client_id: t.clientId,
  iat: t.iat,
  exp: t.exp,
});

/** True when the feed says this token's grant, user or agent was revoked after it was issued. */
export function isRevoked(ctx: ProxyContext, token: VerifiedToken): boolean {
  return ctx.as.subscriber.isRevoked(claimsOf(token));
}

export function authenticate(ctx: ProxyContext): Step {
  return async (x, next) => {
    // RFC 6750 §2.3 query tokens leak into logs and history: refused outright (RFC 9700 §2.5).
    if (/(?:^|[?&])access_token=/i.test(x.search)) {
      return refuse(x, 'token_in_query', 400, [
        'invalid_request',
        'access tokens are accepted only in the Authorization header',
      ]);
    }
    const bearer = parseBearer(x.req.headers.authorization);
    if (bearer.kind === 'none') return refuse(x, 'no_token', 401);
    if (bearer.kind === 'malformed')
      return refuse(x, 'invalid_token', 401, ['invalid_token', 'malformed bearer token']);
    let token: VerifiedToken;
    try {
      token = await ctx.as.verifier.verify(bearer.token, x.route.config.resource);
    } catch (err) {
      if (err instanceof KeysUnavailableError) return refuse(x, 'unavailable', 503);
      if (err instanceof InvalidTokenError) {
        return refuse(x, 'invalid_token', 401, ['invalid_token', 'the access token is invalid or expired']);
      }
      throw err;
    }
    // Fail closed: without the feed we cannot know whether this token's grant was revoked.
    if (!ctx.as.feedHealthy()) return refuse(x, 'unavailable', 503);
    if (isRevoked(ctx, token)) {
      return refuse(x, 'revoked', 401, ['invalid_token', 'the access token has been revoked']);
    }
    x.token = token;
    await next();
  };
}

/** Refuses unless the token holds every scope in `x.needs` (set by an earlier step). */
export const requireScopes: Step = async (x, next) => {
  const token = x.token;
  const needed = x.needs;
  if (!token || !needed) throw new Error('requireScopes runs after authenticate and once the needs are known');
  if (needed.every((s) => token.scopes.has(s))) return next();
  deny(x, 'insufficient_scope', () => {
    // All scopes needed, including those already held (the SDK asks for exactly what we name).
    const want = new Set([...x.route.scopes.filter((s) => token.scopes.has(s)), ...needed]);
    const header = `Bearer error="insufficient_scope", scope=${quote([...want].join(' '))}, resource_metadata=${quote(x.route.metadataUrl)}, error_description="the access token lacks a scope this call needs"`;
    jsonRpcError(x.res, 403, -32001, 'insufficient scope', { 'www-authenticate': header });
  });
};
