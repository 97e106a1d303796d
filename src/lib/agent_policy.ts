// Per-agent policy, the pure part: which policies name an agent, and what they leave it on one MCP
// server. Policies only ever narrow: several that name one agent (its client id and its domain)
// are intersected, and an agent no policy names gets what the server offers.

export type PolicyMatch = { kind: 'client'; value: string } | { kind: 'domain'; value: string };

export interface AgentPolicyRules {
  /** MCP servers (canonical resource URIs) the agent may get tokens for; null: any. */
  resources: string[] | null;
  /** Scopes the agent may hold on any of them; null: any. */
  scopes: string[] | null;
  /** No scope a resource marks as writing. */
  readOnly: boolean;
}

export interface AgentPolicy extends AgentPolicyRules {
  id: number;
  match: PolicyMatch;
  updatedAt: number;
  updatedBy: string;
}

/** A policy as the admin API and `mcp-oauth policy --json` show it (snake_case, one shape for both). */
export function describePolicy(p: AgentPolicy) {
  return {
    id: p.id,
    ...(p.match.kind === 'client' ? { client_id: p.match.value } : { domain: p.match.value }),
    resources: p.resources,
    scopes: p.scopes,
    read_only: p.readOnly,
    updated_at: p.updatedAt,
    updated_by: p.updatedBy,
  };
}

/** The host serving a metadata-document client id (an https URL), or undefined for any other id. */
function documentHost(clientId: string): string | undefined {
  const url = URL.parse(clientId);
  return url?.protocol === 'https:' ? url.hostname.toLowerCase() : undefined;
}

/** A client-id policy names exactly that id; a domain policy the metadata-document agents served from it or a subdomain. */
export function policyNames(match: PolicyMatch, clientId: string): boolean {
  if (match.kind === 'client') return match.value === clientId;
  const host = documentHost(clientId);
  return host !== undefined && (host === match.value || host.endsWith(`.${match.value}`));
}

/** The intersection of the policies that name the agent; undefined when none does. */
export function effectivePolicy(policies: readonly AgentPolicyRules[]): AgentPolicyRules | undefined {
  if (policies.length === 0) return undefined;
  const meet = (a: string[] | null, b: string[] | null) =>
    a === null ? b : b === null ? a : a.filter((x) => b.includes(x));
  return policies.reduce<AgentPolicyRules>(
    (acc, p) => ({
      resources: meet(acc.resources, p.resources),
      scopes: meet(acc.scopes, p.scopes),
      readOnly: acc.readOnly || p.readOnly,
    }),
    { resources: null, scopes: null, readOnly: false },
  );
}

export type PolicyVerdict = { allowed: false } | { allowed: true; scopes: string[] };

/**
 * What the policy leaves the agent on one MCP server, from the server's scopes: refused outright
 * when the server is not among its allowed ones.
 */
export function judgeResource(
  policy: AgentPolicyRules | undefined,
  resource: string,
  scopes: readonly { scope: string; isWrite: boolean }[],
): PolicyVerdict {
  if (!policy) return { allowed: true, scopes: scopes.map((s) => s.scope) };
  if (policy.resources !== null && !policy.resources.includes(resource)) return { allowed: false };
  const kept = scopes.filter(
    (s) => !(policy.readOnly && s.isWrite) && (policy.scopes === null || policy.scopes.includes(s.scope)),
  );
  return { allowed: true, scopes: kept.map((s) => s.scope) };
}
