// Every repository over one database, built once and passed to whoever needs it.
import { createAdminTokenRepository } from './admin_tokens.js';
import { createAgentApprovalRepository } from './agent_approvals.js';
import { createAgentPolicyRepository } from './agent_policies.js';
import { createAlertRepository } from './alerts.js';
import { createClientStateRepository, createRegistrationTokenRepository } from './client_state.js';
import { createClientRepository } from './clients.js';
import type { Db } from './db.js';
import { createFactorRepository } from './factors.js';
import { createGrantDocumentRepository } from './grant_documents.js';
import { createGrantRecordRepository } from './grant_records.js';
import { createGrantIndex } from './grants.js';
import { createIdentityRepository } from './identities.js';
import { createKeyRepository } from './keys.js';
import { createOidcStore } from './oidc_adapter.js';
import { createRefreshFamilyRepository } from './refresh_family.js';
import { createResourceCredentialRepository } from './resource_credentials.js';
import { createResourceLabelRepository } from './resource_labels.js';
import { createResourceRepository } from './resources.js';
import { createRevocationService } from './revocations.js';
import { createServiceClientRepository } from './service_clients.js';
import { createUserRepository } from './users.js';
import { createWebSessionRepository } from './web_sessions.js';

export type Stores = ReturnType<typeof createStores>;

/** `now` (ms since the epoch) is the oidc-provider store's clock; tests inject one. */
export function createStores(db: Db, opts: { accessTokenTtl: number; now?: () => number }) {
  return {
    db,
    users: createUserRepository(db),
    resources: createResourceRepository(db),
    keys: createKeyRepository(db),
    oidc: createOidcStore(db, opts.now),
    grants: createGrantIndex(db),
    grantRecords: createGrantRecordRepository(db),
    revocations: createRevocationService(db, opts),
    clients: createClientRepository(db),
    clientState: createClientStateRepository(db),
    registrationTokens: createRegistrationTokenRepository(db),
    credentials: createResourceCredentialRepository(db),
    webSessions: createWebSessionRepository(db),
    adminTokens: createAdminTokenRepository(db),
    serviceClients: createServiceClientRepository(db),
    refreshFamily: createRefreshFamilyRepository(db),
    alerts: createAlertRepository(db),
    identities: createIdentityRepository(db),
    factors: createFactorRepository(db),
    agentPolicies: createAgentPolicyRepository(db),
    agentApprovals: createAgentApprovalRepository(db),
    grantDocuments: createGrantDocumentRepository(db),
    resourceLabels: createResourceLabelRepository(db),
  };
}
