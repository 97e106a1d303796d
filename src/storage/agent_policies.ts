// Per-agent policies (migrations/0070_agent_policies.sql). The table is small (one row per agent or
// domain an admin restricted), so matching reads it whole.
import {
  type AgentPolicy,
  type AgentPolicyRules,
  effectivePolicy,
  type PolicyMatch,
  policyNames,
} from '../lib/agent_policy.js';
import type { Sql } from './engine.js';
import { deepFreeze, settingsCache } from './settings_cache.js';

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

const ALL = 'SELECT * FROM agent_policies ORDER BY match_kind, match_value';
const BY_ID = 'SELECT * FROM agent_policies WHERE id = ?';
const BY_MATCH = 'SELECT * FROM agent_policies WHERE match_kind = ? AND match_value = ?';
const UPSERT = `INSERT INTO agent_policies (match_kind, match_value, resources, scopes, read_only, updated_at, updated_by)
  VALUES (@kind, @value, @resources, @scopes, @readOnly, @now, @by)
  ON CONFLICT (match_kind, match_value) DO UPDATE SET resources = excluded.resources, scopes = excluded.scopes,
    read_only = excluded.read_only, updated_at = excluded.updated_at, updated_by = excluded.updated_by`;
const REMOVE = 'DELETE FROM agent_policies WHERE id = ?';
const LIVE_GRANTS = 'SELECT client_id, resource, scopes FROM grant_records WHERE revoked_at IS NULL';

export function createAgentPolicyRepository(sql: Sql) {
  const listAll = async (): Promise<AgentPolicy[]> => (await sql.all<Row>(ALL)).map(toPolicy);

  return {
    list: listAll,
    async find(id: number): Promise<AgentPolicy | undefined> {
      const row = await sql.get<Row>(BY_ID, [id]);
      return row ? toPolicy(row) : undefined;
    },
    /** Creates the policy for the match, or replaces the one there is. */
    async set(match: PolicyMatch, rules: AgentPolicyRules, by: string, now: number): Promise<AgentPolicy> {
      await sql.run(UPSERT, {
        kind: match.kind,
        value: match.value,
        resources: rules.resources === null ? null : JSON.stringify(rules.resources),
        scopes: rules.scopes === null ? null : JSON.stringify(rules.scopes),
        readOnly: rules.readOnly ? 1 : 0,
        now,
        by,
      });
      return toPolicy((await sql.get<Row>(BY_MATCH, [match.kind, match.value])) as Row);
    },
    async remove(id: number): Promise<boolean> {
      return (await sql.run(REMOVE, [id])).changes > 0;
    },
    /** Every live grant's agent, MCP server and scopes: what a changed policy may narrow. */
    async liveGrants(): Promise<{ clientId: string; resource: string; scopes: string[] }[]> {
      return (await sql.all<{ client_id: string; resource: string; scopes: string }>(LIVE_GRANTS)).map((r) => ({
        clientId: r.client_id,
        resource: r.resource,
        scopes: r.scopes ? r.scopes.split(' ') : [],
      }));
    },
    /** The policies naming the agent. */
    async naming(clientId: string): Promise<AgentPolicy[]> {
      return (await listAll()).filter((p) => policyNames(p.match, clientId));
    },
    /** What all policies naming the agent leave it, intersected; undefined when none names it. */
    async effectiveFor(clientId: string): Promise<AgentPolicyRules | undefined> {
      // Read at every token: kept while no setting changes (./settings_cache.ts).
      const all = await settingsCache(sql).get('agent_policies', async () => deepFreeze(await listAll()));
      return effectivePolicy(all.filter((p) => policyNames(p.match, clientId)));
    },
  };
}
