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

  const decide = async (actor: Actor, clientId: string, state: 'approved' | 'refused'): Promise<boolean> => {
    if (clientId === '' || clientId.length > 2000) throw new LifecycleError('invalid_policy', 'not a client id');
    const by = actedBy(actor);
    const now = epochSeconds();
    const { changed, revoked } = await stores.sql.transaction(async () => {
      const changed = await agentApprovals.decide(clientId, state, by, now);
      // Refusing an agent approved earlier ends what users gave it since.
      const revoked =
        changed && state === 'refused'
          ? await stores.revocations.revokeClientGrants(clientId, by, now, 'agent refused')
          : [];
      return { changed, revoked };
    });
    if (changed) await log.event(actor, state === 'approved' ? 'agent.approved' : 'agent.refused', { clientId });
    if (revoked.length > 0) await log.revoked(actor, revoked, { reason: 'agent refused' });
    return changed;
  };

  return {
    /**
     * Whether a user may consent to the agent. With approval required, an agent never seen (no
     * grant ever, no decision) is put in the queue the first time a user tries, and waits.
     */
    async approvalStanding(
      required: boolean,
      clientId: string,
      userId: string,
      ip?: string,
    ): Promise<ApprovalStanding> {
      if (!required) return 'approved';
      const found = await agentApprovals.find(clientId);
      if (found) return found.state;
      if (await agentApprovals.everGranted(clientId)) return 'approved';
      if (await agentApprovals.request(clientId, userId, epochSeconds())) {
        await audit.record({ event: 'agent.approval_requested', result: 'success', userId, clientId, ip });
      }
      return 'pending';
    },
    listAgentApprovals(state?: ApprovalState): Promise<AgentApproval[]> {
      return agentApprovals.list(state);
    },
    /** False when it already was approved. */
    approveAgent(actor: Actor, clientId: string): Promise<boolean> {
      return decide(actor, clientId, 'approved');
    },
    /** No user can consent to it any more; grants it holds are revoked. False when it already was refused. */
    refuseAgent(actor: Actor, clientId: string): Promise<boolean> {
      return decide(actor, clientId, 'refused');
    },
  };
}
