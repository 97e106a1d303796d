// Errors at /authorize stay on our origin for agents nobody has used yet (RFC 9700 §4.11.2).
//
// oidc-provider sends an /authorize error to the redirect URI with no user interaction whenever
// the client and the redirect URI check out. With open registration anyone can register
// `https://phish.example/landing` and get a redirect to it from our origin by sending a request
// that is bound to fail (response_type=token, no code_challenge). So an error is redirected only
// for an agent that has completed an authorization here: a user consented and the agent redeemed
// the code for a token (client_state.first_used_at, the same line the unused-registration cap
// draws). Until then its redirect URIs are just what a stranger typed, and the error is shown as
// our page. Agents already in use keep the RFC 6749 §4.1.2.1 redirects they rely on; errors after
// the user has seen the consent page (the resume route: access_denied and the like) still go back
// to the agent, since the user has been shown where they lead.
//
// oidc-provider emits 'authorization.error' synchronously and decides right after it, so the
// listener cannot read the database: the agent's standing is read before the request reaches the
// provider (`loadRedirectStanding`) and kept with the request.
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';

const standing = new WeakMap<object, boolean>();

/**
 * Reads, for an authorization request, whether its agent has completed an authorization here.
 * Placed after the middleware that parses the request's parameters (src/app/resource_params.ts
 * leaves them in ctx.state.authorizeParams, for GET and POST alike).
 */
export function loadRedirectStanding(
  authorizePath: string,
  hasCompletedAuthorization: (clientId: string) => Promise<boolean>,
): Middleware {
  return async (ctx, next) => {
    if (ctx.path === authorizePath) {
      const clientId = (ctx.state.authorizeParams as URLSearchParams | undefined)?.get('client_id');
      if (clientId) standing.set(ctx, await hasCompletedAuthorization(clientId));
    }
    return next();
  };
}

export function keepErrorsOnOurOrigin(provider: Provider) {
  // Emitted by the provider's authorization error handler after it has read the client and before
  // it chooses between its renderError page and a redirect, which it skips unless allow_redirect.
  // Nothing read before (no client_id, or a parameter the provider reads differently): no redirect.
  provider.on('authorization.error', (ctx, err) => {
    if (ctx.oidc?.route !== 'authorization') return;
    const clientId = ctx.oidc.client?.clientId;
    if (clientId && standing.get(ctx) === true && readClientId(ctx) === clientId) return;
    (err as { allow_redirect?: boolean }).allow_redirect = false;
  });
}

const readClientId = (ctx: { state?: { authorizeParams?: URLSearchParams } }) =>
  ctx.state?.authorizeParams?.get('client_id') ?? undefined;
