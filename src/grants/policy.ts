// Per-agent policy: an admin restricts which MCP servers and scopes an agent may get, or makes it
// read-only. New grants follow at once (src/provider/resources.ts); live grants at their next
// refresh. Access tokens already out are cut through the revocation feed for every agent whose live
// grants the change narrows: the feed can only revoke, so the agent refreshes and gets a token
// within the new policy (docs/operating.md#per-agent-policy).
import type { Audit } from '../audit/index.js';
import { type AgentPolicy, type AgentPolicyRules, judgeResource, type PolicyMatch } from '../lib/agent_policy.js';
import { epochSeconds } from '../lib/duration.js';
import type { Label } from '../lib/labels.js';
import { canonicalResource } from '../lib/resource_uri.js';
import type { Stores } from '../storage/index.js';
import { type Actor, actedBy, auditFor } from './actor.js';
import { domainOf } from './agents.js';
import { LifecycleError } from './errors.js';

/** The rules of a policy as a surface sends them (per agent or per group). */
export interface PolicyRulesInput {
  resources?: string[] | null | undefined;
  scopes?: string[] | null | undefined;
  readOnly?: boolean | undefined;
}

export interface AgentPolicyInput extends PolicyRulesInput {
  /** Exactly one of: the agent's client id (a metadata-document URL is one), or a domain. */
  clientId?: string | undefined;
  domain?: string | undefined;
}

const refuse = (message: string): never => {
  throw new LifecycleError('invalid_policy', message);
};

/** Checks a policy's servers (registered ones, canonical) and scopes (offered by some server). */
export async function policyRules(
  stores: Pick<Stores, 'resources'>,
  input: PolicyRulesInput,
): Promise<AgentPolicyRules> {
  const { resources } = stores;
  let servers: string[] | null = null;
  if (input.resources != null) {
    servers = [];
    for (const raw of new Set(input.resources)) {
      const canonical = canonicalResource(String(raw));
      const uri = canonical.ok ? canonical.uri : undefined;
      if (!uri || !(await resources.findByUri(uri)))
        refuse(`not a registered MCP server: ${JSON.stringify(String(raw).slice(0, 200))}`);
      servers.push(uri as string);
    }
  }
  let scopes: string[] | null = null;
  if (input.scopes != null) {
    const offered = new Set(await resources.allScopes());
    scopes = [...new Set(input.scopes.map(String))];
    const unknown = scopes.find((s) => !offered.has(s));
    if (unknown !== undefined) refuse(`no MCP server offers the scope ${JSON.stringify(unknown.slice(0, 200))}`);
  }
  if (input.readOnly !== undefined && typeof input.readOnly !== 'boolean') refuse('read_only must be true or false');
  return { resources: servers, scopes, readOnly: input.readOnly === true };
}

export function policyOperations(stores: Stores, audit: Audit) {
  const { sql, agentPolicies, resources, revocations } = stores;
  const log = auditFor(audit, stores.grantRecords);

  const matchOf = (input: AgentPolicyInput): PolicyMatch => {
    const hasClient = input.clientId !== undefined && input.clientId !== '';
    const hasDomain = input.domain !== undefined && input.domain !== '';
    if (hasClient === hasDomain) refuse('name the agent by exactly one of client_id or domain');
    if (hasClient) {
      const id = input.clientId as string;
      if (id.length > 2000 || /[\s\u0000-\u001f]/.test(id)) refuse('client_id must be a client id');
      return { kind: 'client', value: id };
    }
    try {
      return { kind: 'domain', value: domainOf(input.domain as string) };
    } catch (err) {
      return refuse(err instanceof Error ? err.message : 'not a host name');
    }
  };

  const rulesOf = (input: AgentPolicyInput): Promise<AgentPolicyRules> => policyRules(stores, input);

  /** Agents holding a live grant the policies now in force no longer fully allow. */
  const narrowedAgents = async (match: PolicyMatch): Promise<string[]> => {
    const narrowed = new Set<string>();
    for (const grant of await agentPolicies.liveGrants()) {
      if (narrowed.has(grant.clientId)) continue;
      const policies = await agentPolicies.naming(grant.clientId);
      if (!policies.some((p) => p.match.kind === match.kind && p.match.value === match.value)) continue;
      const resource = await resources.findByUri(grant.resource);
      if (!resource) continue;
      const verdict = judgeResource(await agentPolicies.effectiveFor(grant.clientId), resource.uri, resource.scopes);
      if (!verdict.allowed || grant.scopes.some((s) => !verdict.scopes.includes(s))) narrowed.add(grant.clientId);
    }
    return [...narrowed];
  };

  return {
    listAgentPolicies(): Promise<AgentPolicy[]> {
      return agentPolicies.list();
    },
    /**
     * Creates or replaces the policy for an agent or domain. Returns it with the agents whose
     * outstanding access tokens were cut because the change narrowed what they hold.
     */
    async setAgentPolicy(actor: Actor, input: AgentPolicyInput): Promise<{ policy: AgentPolicy; narrowed: string[] }> {
      const match = matchOf(input);
      const rules = await rulesOf(input);
      const now = epochSeconds();
      const result = await sql.transaction(async () => {
        const policy = await agentPolicies.set(match, rules, actedBy(actor), now);
        const narrowed = await narrowedAgents(match);
        for (const clientId of narrowed) await revocations.cutClientTokens(clientId, now);
        return { policy, narrowed };
      });
      await log.event(actor, 'policy.set', {
        ...(match.kind === 'client' ? { clientId: match.value } : {}),
        details: {
          match: `${match.kind}:${match.value}`,
          resources: rules.resources?.join(' ') ?? '*',
          scopes: rules.scopes?.join(' ') ?? '*',
          read_only: rules.readOnly,
          agents_narrowed: result.narrowed.length,
        },
      });
      return result;
    },
    /**
     * Labels an MCP server (null: no label). A label that narrows (read-only) holds for live grants
     * at their next refresh, and cuts their agents' outstanding access tokens as a narrowed policy does.
     * A label that needs a second factor (`stepUpLabels`) cuts every live grant's agent on the server:
     * their next refresh is refused unless the grant's sign-in had one (src/provider/resources.ts).
     */
    async setResourceLabel(
      actor: Actor,
      uri: string,
      label: Label | null,
      readOnlyLabels: readonly string[],
      stepUpLabels: readonly string[] = [],
    ): Promise<string[]> {
      const canonical = canonicalResource(uri);
      const resource = canonical.ok ? await resources.findByUri(canonical.uri) : undefined;
      if (!resource) return refuse(`not a registered MCP server: ${JSON.stringify(uri.slice(0, 200))}`);
      const now = epochSeconds();
      const write = new Set(resource.scopes.filter((s) => s.isWrite).map((s) => s.scope));
      const cut = await sql.transaction(async () => {
        await stores.resourceLabels.set(resource.uri, label, actedBy(actor), now);
        const stepUp = label !== null && stepUpLabels.includes(label);
        if (label === null || (!readOnlyLabels.includes(label) && !stepUp)) return [];
        const agents = new Set(
          (await agentPolicies.liveGrants())
            .filter((g) => g.resource === resource.uri && (stepUp || g.scopes.some((s) => write.has(s))))
            .map((g) => g.clientId),
        );
        for (const clientId of agents) await revocations.cutClientTokens(clientId, now);
        return [...agents];
      });
      await log.event(actor, 'resource.labelled', {
        details: { resource: resource.uri, label: label ?? 'none', agents_narrowed: cut.length },
      });
      return cut;
    },
    /** Removes a policy (it only ever narrowed, so nothing held is cut). False when there was none. */
    async removeAgentPolicy(actor: Actor, id: number): Promise<boolean> {
      const policy = await agentPolicies.find(id);
      if (!policy || !(await agentPolicies.remove(id))) return false;
      await log.event(actor, 'policy.removed', {
        ...(policy.match.kind === 'client' ? { clientId: policy.match.value } : {}),
        details: { match: `${policy.match.kind}:${policy.match.value}` },
      });
      return true;
    },
  };
}
