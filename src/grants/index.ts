// The lifecycle of grants, agents and users. Every surface (the CLI, the admin console and API, the
// account page, oidc-provider's events) calls these operations with who acts; each does its work in
// one transaction (state, revoked grants, revocation-feed entries, ended sessions) and then writes
// the audit trail once, with the actor and what changed.
import type { Audit } from '../audit/index.js';
import type { Stores } from '../storage/index.js';
import { agentOperations } from './agents.js';
import { approvalOperations } from './approvals.js';
import { factorOperations } from './factors.js';
import { grantOperations } from './grants.js';
import { groupOperations } from './groups.js';
import { policyOperations } from './policy.js';
import { serviceClientOperations } from './service_clients.js';
import { toolLabelOperations } from './tool_labels.js';
import { userOperations } from './users.js';

export { type Actor, CLI_ACTOR, requestActor } from './actor.js';
export { domainOf } from './agents.js';
export type { ApprovalStanding } from './approvals.js';
export { LifecycleError } from './errors.js';
export type { GroupPolicyInput } from './groups.js';
export type { AgentPolicyInput } from './policy.js';
export type { CreatedServiceClient, NewServiceClient } from './service_clients.js';
export { toolLabelRules } from './tool_labels.js';

export type Lifecycle = ReturnType<typeof createLifecycle>;

export function createLifecycle(stores: Stores, audit: Audit) {
  return {
    ...grantOperations(stores, audit),
    ...agentOperations(stores, audit),
    ...userOperations(stores, audit),
    ...serviceClientOperations(stores, audit),
    ...factorOperations(stores, audit),
    ...policyOperations(stores, audit),
    ...approvalOperations(stores, audit),
    ...groupOperations(stores, audit),
    ...toolLabelOperations(stores, audit),
  };
}
