// Per-agent policies (migrations/0070_agent_policies.sql). The table is small (one row per agent or
// domain an admin restricted), so matching reads it whole.
import {
  type AgentPolicy,
  type AgentPolicyRules,
  effectivePolicy,
  type PolicyMatch,
  policyNames,
} from '../lib/agent_policy.js';
import type { Db } from './db.js';

interface Row {
  id: number;
  match_kind: 'client' | 'domain';
  match_value: string;
  resources: string | null;
  scopes: string | null;
  read_only: number;
  updated_at: number;
  updated_by: string;
}

const list = (text: string | null): string[] | null => (text === null ? null : (JSON.parse(text) as string[]));

const toPolicy = (r: Row): AgentPolicy => ({
  id: r.id,
  match: { kind: r.match_kind, value: r.match_value },
  resources: list(r.resources),
  scopes: list(r.scopes),
  readOnly: r.read_only === 1,
  updatedAt: r.updated_at,
  updatedBy: r.updated_by,
});

export type AgentPolicyRepository = ReturnType<typeof createAgentPolicyRepository>;

export function createAgentPolicyRepository(db: Db) {
  const all = db.prepare('SELECT * FROM agent_policies ORDER BY match_kind, match_value');
  const byId = db.prepare('SELECT * FROM agent_policies WHERE id = ?');
  const byMatch = db.prepare('SELECT * FROM agent_policies WHERE match_kind = ? AND match_value = ?');
  const upsert =
    db.prepare(`INSERT INTO agent_policies (match_kind, match_value, resources, scopes, read_only, updated_at, updated_by)
    VALUES (@kind, @value, @resources, @scopes, @readOnly, @now, @by)
    ON CONFLICT (match_kind, match_value) DO UPDATE SET resources = excluded.resources, scopes = excluded.scopes,
      read_only = excluded.read_only, updated_at = excluded.updated_at, updated_by = excluded.updated_by`);
  const remove = db.prepare('DELETE FROM agent_policies WHERE id = ?');
  const liveGrants = db.prepare('SELECT client_id, resource, scopes FROM grant_records WHERE revoked_at IS NULL');

  const listAll = (): AgentPolicy[] => (all.all() as Row[]).map(toPolicy);

  return {
    list: listAll,
    find(id: number): AgentPolicy | undefined {
      const row = byId.get(id) as Row | undefined;
      return row ? toPolicy(row) : undefined;
    },
    /** Creates the policy for the match, or replaces the one there is. */
    set(match: PolicyMatch, rules: AgentPolicyRules, by: string, now: number): AgentPolicy {
      upsert.run({
        kind: match.kind,
        value: match.value,
        resources: rules.resources === null ? null : JSON.stringify(rules.resources),
        scopes: rules.scopes === null ? null : JSON.stringify(rules.scopes),
        readOnly: rules.readOnly ? 1 : 0,
        now,
        by,
      });
      return toPolicy(byMatch.get(match.kind, match.value) as Row);
    },
    remove(id: number): boolean {
      return remove.run(id).changes > 0;
    },
    /** Every live grant's agent, MCP server and scopes: what a changed policy may narrow. */
    liveGrants(): { clientId: string; resource: string; scopes: string[] }[] {
      return (liveGrants.all() as { client_id: string; resource: string; scopes: string }[]).map((r) => ({
        clientId: r.client_id,
        resource: r.resource,
        scopes: r.scopes ? r.scopes.split(' ') : [],
      }));
    },
    /** The policies naming the agent. */
    naming(clientId: string): AgentPolicy[] {
      return listAll().filter((p) => policyNames(p.match, clientId));
    },
    /** What all policies naming the agent leave it, intersected; undefined when none names it. */
    effectiveFor(clientId: string): AgentPolicyRules | undefined {
      return effectivePolicy(listAll().filter((p) => policyNames(p.match, clientId)));
    },
  };
}
