// The approval queue of new agents (migrations/0071_agent_approvals.sql).
import type { Sql } from './engine.js';

export type ApprovalState = 'pending' | 'approved' | 'refused';

export interface AgentApproval {
  clientId: string;
  state: ApprovalState;
  requestedAt: number;
  /** The user whose connection attempt put the agent in the queue (null: an admin decided first). */
  requestedBy: string | null;
  decidedAt: number | null;
  decidedBy: string | null;
}

interface Row {
  client_id: string;
  state: ApprovalState;
  requested_at: number;
  requested_by: string | null;
  decided_at: number | null;
  decided_by: string | null;
}

const toApproval = (r: Row): AgentApproval => ({
  clientId: r.client_id,
  state: r.state,
  requestedAt: r.requested_at,
  requestedBy: r.requested_by,
  decidedAt: r.decided_at,
  decidedBy: r.decided_by,
});

export type AgentApprovalRepository = ReturnType<typeof createAgentApprovalRepository>;

const BY_CLIENT = 'SELECT * FROM agent_approvals WHERE client_id = ?';
const REQUEST =
  "INSERT INTO agent_approvals (client_id, state, requested_at, requested_by) VALUES (?, 'pending', ?, ?) ON CONFLICT (client_id) DO NOTHING";
const DECIDE = `INSERT INTO agent_approvals (client_id, state, requested_at, decided_at, decided_by)
  VALUES (@client, @state, @now, @now, @by)
  ON CONFLICT (client_id) DO UPDATE SET state = excluded.state, decided_at = excluded.decided_at, decided_by = excluded.decided_by
  WHERE agent_approvals.state <> excluded.state`;
const BY_STATE = 'SELECT * FROM agent_approvals WHERE state = ? ORDER BY requested_at DESC LIMIT ?';
const ALL = 'SELECT * FROM agent_approvals ORDER BY requested_at DESC LIMIT ?';
const EVER_GRANTED = 'SELECT 1 AS one FROM grant_records WHERE client_id = ? LIMIT 1';

export function createAgentApprovalRepository(sql: Sql) {
  return {
    async find(clientId: string): Promise<AgentApproval | undefined> {
      const row = await sql.get<Row>(BY_CLIENT, [clientId]);
      return row && toApproval(row);
    },
    /** Puts the agent in the queue; true when it was not there yet. */
    async request(clientId: string, userId: string, now: number): Promise<boolean> {
      return (await sql.run(REQUEST, [clientId, now, userId])).changes > 0;
    },
    /** Approves or refuses; false when it already was in that state. */
    async decide(clientId: string, state: 'approved' | 'refused', by: string, now: number): Promise<boolean> {
      return (await sql.run(DECIDE, { client: clientId, state, by, now })).changes > 0;
    },
    async list(state?: ApprovalState, limit = 500): Promise<AgentApproval[]> {
      const rows = state ? await sql.all<Row>(BY_STATE, [state, limit]) : await sql.all<Row>(ALL, [limit]);
      return rows.map(toApproval);
    },
    /** The agent held a grant once (before approval was required, or approved since). */
    async everGranted(clientId: string): Promise<boolean> {
      return (await sql.get(EVER_GRANTED, [clientId])) !== undefined;
    },
  };
}
