// Step-up authentication (RFC 9470): a route may demand, for calls that need its write scope, that
// the user signed in with a second factor or a passkey (`writeSignIn`), and not longer ago than
// `writeSignInMaxAge`. A token that falls short gets 401 `insufficient_user_authentication` with
// the `acr_values` (and `max_age`) to ask for; the agent's next authorization request carries
// them, and the authorization server's sign-in page asks for that much (src/provider/sign_in_policy.ts).
import { acrValuesFor, satisfies } from '../../lib/sign_in_strength.js';
import { deny, type Exchange, jsonRpcError, quote } from '../exchange.js';
import type { Step } from '../pipeline.js';

/** Whether the exchange's token meets its route's sign-in demand for what the exchange needs. */
export function signInSufficient(x: Exchange, nowSeconds: number): boolean {
  const route = x.route.config;
  const token = x.token;
  if (route.writeSignIn === 'off' || !x.needs?.includes(route.writeScope)) return true;
  if (!token || !satisfies(token.acr, route.writeSignIn)) return false;
  if (route.writeSignInMaxAge === undefined) return true;
  return token.authTime !== undefined && nowSeconds - token.authTime <= route.writeSignInMaxAge;
}

/** Runs after requireScopes (which knows what the call needs and that the token holds it). */
export function requireUserAuthentication(now: () => number = Date.now): Step {
  return async (x, next) => {
    if (signInSufficient(x, Math.floor(now() / 1000))) return next();
    const route = x.route.config;
    deny(x, 'insufficient_user_authentication', () => {
      let header =
        `Bearer error="insufficient_user_authentication", ` +
        `error_description="a stronger or more recent sign-in is required for this call", ` +
        `acr_values=${quote(acrValuesFor(route.writeSignIn === 'phr' ? 'phr' : 'mfa'))}`;
      if (route.writeSignInMaxAge !== undefined) header += `, max_age=${route.writeSignInMaxAge}`;
      header += `, resource_metadata=${quote(x.route.metadataUrl)}`;
      jsonRpcError(x.res, 401, -32001, 'a stronger sign-in is required', { 'www-authenticate': header });
    });
  };
}
