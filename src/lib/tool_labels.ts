// Classification labels on single tools of an MCP server, the pure part shared by the
// authorization server and the proxy (docs/operating.md#classification-labels).
//
// The proxy must not load the server's storage (test/architecture/layers.test.ts), and it verifies
// tokens without calling the server, so what the labels make of a tool travels in the access token
// itself, in one claim the server computes when it mints the token:
//
//   "mcp_tool_policy": { "deny": [...], "no_write": [...], "mfa": [...] }
//
// - deny: tools the proxy refuses, whatever the token's scope;
// - no_write: tools the proxy refuses when it counts them as writing (src/proxy/policy.ts);
// - mfa: tools whose calls need a second factor (acr at least `mfa`); a weaker token gets the
//   RFC 9470 step-up challenge.
// A label change that narrows cuts the outstanding tokens through the revocation feed, so the next
// token carries the new claim within a second (src/grants/policy.ts).
import type { Label } from './labels.js';

export const TOOL_POLICY_CLAIM = 'mcp_tool_policy';

/** Tool names as MCP servers use them: printable ASCII without spaces, at most 128 characters. */
const TOOL_NAME = /^[\x21-\x7e]{1,128}$/;

/** Tool labels one MCP server may carry: the claim must stay small enough for a header. */
export const MAX_TOOL_LABELS = 200;

export const isToolName = (value: unknown): value is string => typeof value === 'string' && TOOL_NAME.test(value);

export interface ToolLabelRules {
  /** Labels whose tools the proxy refuses outright. */
  deny: readonly string[];
  /** Labels whose tools may only be called when they read (MCP_OAUTH_LABELS_READ_ONLY). */
  readOnly: readonly string[];
  /** Labels whose tools (and servers) need a second factor. */
  secondFactor: readonly string[];
}

export interface ToolPolicyClaim {
  deny?: string[];
  no_write?: string[];
  mfa?: string[];
}

/** The claim for a token to a server with these tool labels; undefined when no rule applies. */
export function toolPolicyClaim(
  labels: readonly { tool: string; label: Label }[],
  rules: ToolLabelRules,
): ToolPolicyClaim | undefined {
  const deny: string[] = [];
  const noWrite: string[] = [];
  const mfa: string[] = [];
  for (const { tool, label } of labels) {
    if (rules.deny.includes(label)) deny.push(tool);
    else if (rules.readOnly.includes(label)) noWrite.push(tool);
    // A denied tool is never called, so it needs no sign-in rule.
    if (!rules.deny.includes(label) && rules.secondFactor.includes(label)) mfa.push(tool);
  }
  const claim: ToolPolicyClaim = {};
  if (deny.length > 0) claim.deny = deny.sort();
  if (noWrite.length > 0) claim.no_write = noWrite.sort();
  if (mfa.length > 0) claim.mfa = mfa.sort();
  return Object.keys(claim).length > 0 ? claim : undefined;
}

export interface ToolRestrictions {
  deny: ReadonlySet<string>;
  noWrite: ReadonlySet<string>;
  mfa: ReadonlySet<string>;
}

export const NO_TOOL_RESTRICTIONS: ToolRestrictions = Object.freeze({
  deny: new Set<string>(),
  noWrite: new Set<string>(),
  mfa: new Set<string>(),
});

/**
 * The claim as the proxy reads it from a verified token. Undefined: the claim is there but not in
 * the shape we issue, and the token is refused (a restriction we cannot read must not pass as none).
 */
export function readToolPolicyClaim(value: unknown): ToolRestrictions | undefined {
  if (value === undefined) return NO_TOOL_RESTRICTIONS;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const names = (key: string): Set<string> | undefined => {
    const list = record[key];
    if (list === undefined) return new Set();
    if (!Array.isArray(list) || list.length > MAX_TOOL_LABELS || !list.every(isToolName)) return undefined;
    return new Set(list);
  };
  const deny = names('deny');
  const noWrite = names('no_write');
  const mfa = names('mfa');
  if (!deny || !noWrite || !mfa) return undefined;
  return { deny, noWrite, mfa };
}

/** The strongest rule a tool's label brings, for the consent page; undefined: none. */
export function toolRuleOf(label: Label, rules: ToolLabelRules): 'deny' | 'no_write' | 'mfa' | undefined {
  if (rules.deny.includes(label)) return 'deny';
  if (rules.readOnly.includes(label)) return 'no_write';
  if (rules.secondFactor.includes(label)) return 'mfa';
  return undefined;
}
