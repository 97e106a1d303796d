// RFC 9470 step-up parameters on plain OAuth authorization requests. An agent answering a
// resource server's insufficient_user_authentication challenge sends `acr_values` and `max_age`
// without the `openid` scope; oidc-provider refuses those parameters without it (they are OpenID
// Connect's), so they are moved to the provider's declared extra parameters before it sees them
// (src/provider/sign_in_policy.ts reads them). Requests with `openid` keep them as they are.
import { splitScope } from '../lib/scopes.js';
import { STEP_UP_PARAMS } from '../provider/sign_in_policy.js';

/** Moves acr_values and max_age of a non-OpenID request; true when anything changed. */
export function moveStepUpParams(params: URLSearchParams): boolean {
  if (splitScope(params.get('scope')).includes('openid')) return false;
  let changed = false;
  for (const [from, to] of [
    ['acr_values', STEP_UP_PARAMS.acrValues],
    ['max_age', STEP_UP_PARAMS.maxAge],
  ] as const) {
    const values = params.getAll(from);
    if (values.length === 0) continue;
    params.delete(from);
    // A repeated parameter stays repeated, for the provider to refuse as it would the original.
    for (const v of values) params.append(to, v);
    changed = true;
  }
  return changed;
}
