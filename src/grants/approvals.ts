// The approval queue: with MCP_OAUTH_AGENT_APPROVAL=on, a new agent (a registration or a
// metadata-document URL that never held a grant) waits for an admin before any user can consent.
// The consent step asks `approvalStanding`; admins decide through the console, the API or the CLI.
import type { Audit } from '../audit/index.js';
import { epochSeconds } from '../lib/duration.js';
import type { AgentApproval, ApprovalState } from '../storage/agent_approvals.js';
import type { Stores } from '../storage/index.js';
import { type Actor, actedBy, auditFor } from './actor.js';
import { LifecycleError } from './errors.js';

export type ApprovalStanding = 'approved' | 'pending' | 'refused';

export function approvalOperations(stores: Stores, audit: Audit) {
  const { agentApprovals } = stores;
  const log = auditFor(audit, stores.grantRecords);

  const decide = (actor: Actor, clientId: string, state: 'approved' | 'refused'): boolean => {
    if (clientId === '' || clientId.length > 2000) throw new LifecycleError('invalid_policy', 'not a client id');
    const by = actedBy(actor);
    const now = epochSeconds();
    const { changed, revoked } = stores.db.transaction(() => {
      const changed = agentApprovals.decide(clientId, state, by, now);
      // Refusing an agent approved earlier ends what users gave it since.
      const revoked =
        changed && state === 'refused' ? stores.revocations.revokeClientGrants(clientId, by, now, 'agent refused') : [];
      return { changed, revoked };
    })();
    if (changed) log.event(actor, state === 'approved' ? 'agent.approved' : 'agent.refused', { clientId });
    if (revoked.length > 0) log.revoked(actor, revoked, { reason: 'agent refused' });
    return changed;
  };

  return {
    /**
     * Whether a user may consent to the agent. With approval required, an agent never seen (no
     * grant ever, no decision) is put in the queue the first time a user tries, and waits.
     */
    approvalStanding(required: boolean, clientId: string, userId: string, ip?: string): ApprovalStanding {
      if (!required) return 'approved';
      const found = agentApprovals.find(clientId);
      if (found) return found.state;
      if (agentApprovals.everGranted(clientId)) return 'approved';
      if (agentApprovals.request(clientId, userId, epochSeconds())) {
        audit.record({ event: 'agent.approval_requested', result: 'success', userId, clientId, ip });
      }
      return 'pending';
    },
    listAgentApprovals(state?: ApprovalState): AgentApproval[] {
      return agentApprovals.list(state);
    },
    /** False when it already was approved. */
    approveAgent(actor: Actor, clientId: string): boolean {
      return decide(actor, clientId, 'approved');
    },
    /** No user can consent to it any more; grants it holds are revoked. False when it already was refused. */
    refuseAgent(actor: Actor, clientId: string): boolean {
      return decide(actor, clientId, 'refused');
    },
  };
}
