// The approval queue of new agents (migrations/0071_agent_approvals.sql).
import type { Db } from './db.js';

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

export function createAgentApprovalRepository(db: Db) {
  const byClient = db.prepare('SELECT * FROM agent_approvals WHERE client_id = ?');
  const request = db.prepare(
    "INSERT INTO agent_approvals (client_id, state, requested_at, requested_by) VALUES (?, 'pending', ?, ?) ON CONFLICT (client_id) DO NOTHING",
  );
  const decide = db.prepare(`INSERT INTO agent_approvals (client_id, state, requested_at, decided_at, decided_by)
    VALUES (@client, @state, @now, @now, @by)
    ON CONFLICT (client_id) DO UPDATE SET state = excluded.state, decided_at = excluded.decided_at, decided_by = excluded.decided_by
    WHERE agent_approvals.state <> excluded.state`);
  const byState = db.prepare('SELECT * FROM agent_approvals WHERE state = ? ORDER BY requested_at DESC LIMIT ?');
  const all = db.prepare('SELECT * FROM agent_approvals ORDER BY requested_at DESC LIMIT ?');
  const everGranted = db.prepare('SELECT 1 FROM grant_records WHERE client_id = ? LIMIT 1').pluck();

  return {
    find(clientId: string): AgentApproval | undefined {
      const row = byClient.get(clientId) as Row | undefined;
      return row && toApproval(row);
    },
    /** Puts the agent in the queue; true when it was not there yet. */
    request(clientId: string, userId: string, now: number): boolean {
      return request.run(clientId, now, userId).changes > 0;
    },
    /** Approves or refuses; false when it already was in that state. */
    decide(clientId: string, state: 'approved' | 'refused', by: string, now: number): boolean {
      return decide.run({ client: clientId, state, by, now }).changes > 0;
    },
    list(state?: ApprovalState, limit = 500): AgentApproval[] {
      const rows = state ? byState.all(state, limit) : all.all(limit);
      return (rows as Row[]).map(toApproval);
    },
    /** The agent held a grant once (before approval was required, or approved since). */
    everGranted(clientId: string): boolean {
      return everGranted.get(clientId) !== undefined;
    },
  };
}
