// The access decision, shared by the MCP route and nginx's auth_request: a token from the
// Authorization header only, as a Bearer token (RFC 6750) or a DPoP-bound one with its proof
// (RFC 9449 §7), verified locally (signature, iss, aud, exp, typ), checked against the revocation
// feed, then the scopes the exchange needs. Refusals follow RFC 6750 §3, RFC 9449 §7.1 and the MCP
// authorization spec: 401 with `resource_metadata` and `scope` (a DPoP challenge with `algs`
// beside or, where the route requires DPoP, instead of the Bearer one), 403 `insufficient_scope`
// naming every scope needed, 503 while the proxy cannot know (no keys, stale feed).
import type { ProxyContext } from '../context.js';
import { DPOP_ALGORITHMS, InvalidProofError, ProofCacheFullError, parseAuthorization } from '../dpop.js';
import { deny, type Exchange, jsonRpcError, type Outcome, quote } from '../exchange.js';
import type { Step } from '../pipeline.js';
import { InvalidTokenError, KeysUnavailableError, type VerifiedToken } from '../verifier.js';

type Scheme = 'bearer' | 'dpop';

/** The challenges for a refusal; the error, if any, goes in the challenge of the scheme it is about. */
function challenges(x: Exchange, error?: [string, string], about: Scheme = 'bearer'): string {
  const common = `resource_metadata=${quote(x.route.metadataUrl)}, scope=${quote(x.route.config.readScope)}`;
  const err = error ? `, error=${quote(error[0])}, error_description=${quote(error[1])}` : '';
  const dpop = `DPoP algs=${quote(DPOP_ALGORITHMS.join(' '))}, ${common}${about === 'dpop' ? err : ''}`;
  if (x.route.config.requireDpop) return dpop;
  // Bearer first: clients that know only Bearer (MCP SDK v1) read the first challenge.
  return `Bearer ${common}${about === 'bearer' ? err : ''}, ${dpop}`;
}

function refuse(x: Exchange, outcome: Outcome, status: number, error?: [string, string], about?: Scheme): void {
  deny(x, outcome, () => {
    const headers: Record<string, string> = {};
    if (status === 401 || status === 400) headers['www-authenticate'] = challenges(x, error, about);
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
    const credential = parseAuthorization(x.req.headers.authorization);
    if (credential.kind === 'none') return refuse(x, 'no_token', 401);
    const scheme = credential.scheme;
    if (credential.kind === 'malformed') {
      return refuse(x, 'invalid_token', 401, ['invalid_token', `malformed ${scheme} token`], scheme);
    }
    // RFC 6750 §3.1: an unsupported scheme gets a challenge without an error code.
    if (scheme === 'bearer' && x.route.config.requireDpop) return refuse(x, 'dpop_required', 401);
    let token: VerifiedToken;
    try {
      token = await ctx.as.verifier.verify(credential.token, x.route.config.resource);
    } catch (err) {
      if (err instanceof KeysUnavailableError) return refuse(x, 'unavailable', 503);
      if (err instanceof InvalidTokenError) {
        return refuse(x, 'invalid_token', 401, ['invalid_token', 'the access token is invalid or expired'], scheme);
      }
      throw err;
    }
    // RFC 9449 §7.2: a bound token is refused as a bearer token, else a thief could drop the proof.
    if (token.jkt && scheme === 'bearer') {
      return refuse(x, 'invalid_token', 401, [
        'invalid_token',
        'the access token is DPoP-bound: send it with the DPoP scheme and a proof',
      ]);
    }
    if (!token.jkt && scheme === 'dpop') {
      return refuse(x, 'invalid_token', 401, ['invalid_token', 'the access token is not DPoP-bound'], 'dpop');
    }
    // Fail closed: without the feed we cannot know whether this token's grant was revoked.
    if (!ctx.as.feedHealthy()) return refuse(x, 'unavailable', 503);
    if (isRevoked(ctx, token)) {
      return refuse(x, 'revoked', 401, ['invalid_token', 'the access token has been revoked'], scheme);
    }
    if (token.jkt) {
      // nginx's auth_request subrequest is a GET of another path: the agent's method comes in
      // X-Original-Method, and its URL is the route's resource (X-Original-URI matched it exactly).
      const method = x.method === 'auth_request' ? x.req.headers['x-original-method'] : x.method;
      try {
        if (typeof method !== 'string') throw new InvalidProofError('the request method is unknown');
        await ctx.proofs.verify({
          proof: x.req.headers.dpop,
          method,
          url: x.route.config.resource,
          token: credential.token,
          jkt: token.jkt,
        });
      } catch (err) {
        if (err instanceof ProofCacheFullError) return refuse(x, 'unavailable', 503);
        if (err instanceof InvalidProofError) {
          return refuse(x, 'invalid_dpop_proof', 401, ['invalid_dpop_proof', err.message], 'dpop');
        }
        throw err;
      }
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
    const scheme = token.jkt ? `DPoP algs=${quote(DPOP_ALGORITHMS.join(' '))},` : 'Bearer';
    const header = `${scheme} error="insufficient_scope", scope=${quote([...want].join(' '))}, resource_metadata=${quote(x.route.metadataUrl)}, error_description="the access token lacks a scope this call needs"`;
    jsonRpcError(x.res, 403, -32001, 'insufficient scope', { 'www-authenticate': header });
  });
};
