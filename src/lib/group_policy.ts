// Policy per group of users, the pure part (docs/operating.md#groups-and-group-policy).
//
// The rule that combines policies: every policy that applies to an authorization only narrows it,
// so the result is their intersection: the agent's own policies (by client id and by domain) and
// the policies of every group the user is in. A server must be allowed by all of them, a scope
// too, and any one read-only makes it read-only. "The narrower wins", also between two groups of
// one user: being in one more group never gives an agent more.
import { type AgentPolicyRules, effectivePolicy } from './agent_policy.js';

export interface UserGroup {
  id: number;
  name: string;
  description: string;
  createdAt: number;
  createdBy: string;
}

export interface GroupPolicy extends AgentPolicyRules {
  id: number;
  groupId: number;
  groupName: string;
  updatedAt: number;
  updatedBy: string;
}

/**
 * Group names: as identity providers put them in a group claim (names, paths such as
 * `/eng/platform`, or ids), so any printable text without control characters, 1 to 256 long.
 */
export function groupNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) {
    return 'a group name has 1 to 256 characters';
  }
  if (/[\u0000-\u001f\u007f]/.test(name) || name.trim() !== name) {
    return 'a group name has no control characters and no spaces at either end';
  }
  return undefined;
}

/** What the agent's policies and the user's groups' policies leave together; undefined: none applies. */
export function combinedPolicy(
  agent: AgentPolicyRules | undefined,
  groups: readonly AgentPolicyRules[],
): AgentPolicyRules | undefined {
  return effectivePolicy(agent ? [agent, ...groups] : groups);
}

/** A group policy as the admin API and `mcp-oauth policy --json` show it. */
export function describeGroupPolicy(p: GroupPolicy) {
  return {
    id: p.id,
    group: p.groupName,
    resources: p.resources,
    scopes: p.scopes,
    read_only: p.readOnly,
    updated_at: p.updatedAt,
    updated_by: p.updatedBy,
  };
}

/**
 * Group claim values an identity provider sent, as stored: strings only, deduplicated, each a valid
 * group name. A provider may send hundreds; beyond `max` the rest is dropped (and the caller logs it).
 */
export function upstreamGroupNames(raw: unknown, max = 1000): { names: string[]; dropped: number } {
  const values = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  const unique = [...new Set(values.filter((v): v is string => groupNameProblem(v) === undefined))];
  return { names: unique.slice(0, max), dropped: Math.max(0, unique.length - max) };
}
