// What the provider needs of groups and tool labels when it mints a token: who the token is for
// (the user, to find their groups' policies) and the `mcp_tool_policy` claim of the MCP server the
// token is bound to (src/lib/tool_labels.ts).
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Label } from '../lib/labels.js';
import { type ToolLabelRules, type ToolPolicyClaim, toolPolicyClaim } from '../lib/tool_labels.js';

/**
 * The user an authorization or token request is for: the code's, refresh token's or device code's
 * account at /token, the signed-in session's at /authorize. Undefined before anyone signed in (the
 * consent page then applies the user's groups) and for client credentials.
 */
export function accountOf(ctx: KoaContextWithOIDC): string | undefined {
  const entities = ctx.oidc?.entities as Record<string, { accountId?: unknown } | undefined> | undefined;
  for (const name of ['RefreshToken', 'AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest']) {
    const id = entities?.[name]?.accountId;
    if (typeof id === 'string' && id !== '') return id;
  }
  const session = ctx.oidc?.session?.accountId;
  return typeof session === 'string' && session !== '' ? session : undefined;
}

export interface ToolLabelSource {
  forResource(uri: string): Promise<readonly { tool: string; label: Label }[]>;
}

/** The claim for an access token bound to `audience`; undefined when no labelled tool has a rule. */
export async function toolPolicyFor(
  source: ToolLabelSource,
  rules: ToolLabelRules,
  audience: unknown,
): Promise<ToolPolicyClaim | undefined> {
  if (typeof audience !== 'string') return undefined;
  if (rules.deny.length === 0 && rules.readOnly.length === 0 && rules.secondFactor.length === 0) return undefined;
  return toolPolicyClaim(await source.forResource(audience), rules);
}
