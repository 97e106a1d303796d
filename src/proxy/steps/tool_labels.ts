// Classification labels on tools, enforced per call (docs/operating.md#classification-labels). The
// authorization server puts what the labels make of the server's tools into the access token
// (src/lib/tool_labels.ts), so the proxy decides from the token alone:
// - a denied tool is refused with 403, whatever the token's scope (no insufficient_scope challenge:
//   no scope would help, and an agent would loop asking for one);
// - a no-write tool is refused when the proxy counts it as writing (src/proxy/policy.ts);
// - a tool that needs a second factor gets the RFC 9470 step-up challenge when the token's sign-in
//   was weaker; the agent's next authorization asks for it (src/provider/sign_in_policy.ts).
import { acrValuesFor, satisfies } from '../../lib/sign_in_strength.js';
import type { ToolRestrictions } from '../../lib/tool_labels.js';
import { deny, type Exchange, jsonRpcError, quote } from '../exchange.js';
import type { Step } from '../pipeline.js';
import type { ToolPolicy } from '../policy.js';

export type ToolVerdict = 'allow' | 'denied' | 'no_write' | 'second_factor';

/** What the token's tool restrictions say about the exchange's calls: the first refusal, if any. */
export function judgeToolCalls(x: Exchange): { verdict: ToolVerdict; tool?: string } {
  const token = x.token;
  if (!token || !x.calls) return { verdict: 'allow' };
  const { deny: denied, noWrite, mfa } = token.tools;
  if (denied.size === 0 && noWrite.size === 0 && mfa.size === 0) return { verdict: 'allow' };
  let stepUp: string | undefined;
  for (const call of x.calls) {
    if (call.method !== 'tools/call' || call.tool === undefined) continue;
    if (denied.has(call.tool)) return { verdict: 'denied', tool: call.tool };
    if (noWrite.has(call.tool) && !x.route.policy.isReadOnly(call.tool))
      return { verdict: 'no_write', tool: call.tool };
    if (mfa.has(call.tool) && !satisfies(token.acr, 'mfa')) stepUp ??= call.tool;
  }
  // A refusal outright goes first: a stronger sign-in would not make that call pass.
  return stepUp === undefined ? { verdict: 'allow' } : { verdict: 'second_factor', tool: stepUp };
}

/** Runs after requireScopes: the token is verified and the calls are known. */
export const requireToolLabels: Step = async (x, next) => {
  const { verdict } = judgeToolCalls(x);
  if (verdict === 'allow') return next();
  if (verdict === 'second_factor') {
    return deny(x, 'insufficient_user_authentication', () => {
      const header =
        `Bearer error="insufficient_user_authentication", ` +
        `error_description="this tool needs a sign-in with a second factor", ` +
        `acr_values=${quote(acrValuesFor('mfa'))}, resource_metadata=${quote(x.route.metadataUrl)}`;
      jsonRpcError(x.res, 401, -32001, 'a stronger sign-in is required', { 'www-authenticate': header });
    });
  }
  deny(x, 'tool_denied', () =>
    jsonRpcError(
      x.res,
      403,
      -32001,
      verdict === 'denied'
        ? "this tool is not available to agents: the server's policy refuses it"
        : "this tool may not change data for agents: the server's policy allows it read-only",
    ),
  );
};

/**
 * The route's tool policy as one token sees it: tools its labels refuse are not callable, so
 * `hideUnauthorizedTools` leaves them out of tools/list too. Learning still goes to the route's.
 */
export function withTokenTools(policy: ToolPolicy, tools: ToolRestrictions): ToolPolicy {
  if (tools.deny.size === 0 && tools.noWrite.size === 0) return policy;
  return {
    ...policy,
    canCall: (tool, scopes) =>
      !tools.deny.has(tool) && !(tools.noWrite.has(tool) && !policy.isReadOnly(tool)) && policy.canCall(tool, scopes),
  };
}
