// Every repository over one database, built once and passed to whoever needs it.
import { createAdminTokenRepository } from './admin_tokens.js';
import { createAgentApprovalRepository } from './agent_approvals.js';
import { createAgentPolicyRepository } from './agent_policies.js';
import { createAlertRepository } from './alerts.js';
import { createClientStateRepository, createRegistrationTokenRepository } from './client_state.js';
import { createClientRepository } from './clients.js';
import type { Sql } from './engine.js';
import { createFactorRepository } from './factors.js';
import { createGrantDocumentRepository } from './grant_documents.js';
import { createGrantRecordRepository } from './grant_records.js';
import { createGrantIndex } from './grants.js';
import { createGroupRepository } from './groups.js';
import { createIdentityRepository } from './identities.js';
import { createKeyRepository } from './keys.js';
import { createOidcStore } from './oidc_adapter.js';
import { createRefreshFamilyRepository } from './refresh_family.js';
import { createResourceCredentialRepository } from './resource_credentials.js';
import { createResourceLabelRepository } from './resource_labels.js';
import { createResourceRepository } from './resources.js';
import { createRevocationService } from './revocations.js';
import { createServiceClientRepository } from './service_clients.js';
import { createThrottleRepository } from './throttles.js';
import { createToolLabelRepository } from './tool_labels.js';
import { createUserRepository } from './users.js';
import { createWebSessionRepository } from './web_sessions.js';

export type Stores = ReturnType<typeof createStores>;

/** `now` (ms since the epoch) is the oidc-provider store's clock; tests inject one. */
export function createStores(sql: Sql, opts: { accessTokenTtl: number; now?: () => number }) {
  return {
    sql,
    users: createUserRepository(sql),
    resources: createResourceRepository(sql),
    keys: createKeyRepository(sql),
    oidc: createOidcStore(sql, opts.now),
    grants: createGrantIndex(sql),
    grantRecords: createGrantRecordRepository(sql),
    revocations: createRevocationService(sql, opts),
    clients: createClientRepository(sql),
    clientState: createClientStateRepository(sql),
    registrationTokens: createRegistrationTokenRepository(sql),
    credentials: createResourceCredentialRepository(sql),
    webSessions: createWebSessionRepository(sql),
    adminTokens: createAdminTokenRepository(sql),
    serviceClients: createServiceClientRepository(sql),
    refreshFamily: createRefreshFamilyRepository(sql),
    alerts: createAlertRepository(sql),
    identities: createIdentityRepository(sql),
    factors: createFactorRepository(sql),
    agentPolicies: createAgentPolicyRepository(sql),
    agentApprovals: createAgentApprovalRepository(sql),
    grantDocuments: createGrantDocumentRepository(sql),
    resourceLabels: createResourceLabelRepository(sql),
    groups: createGroupRepository(sql),
    toolLabels: createToolLabelRepository(sql),
    throttles: createThrottleRepository(sql),
  };
}
