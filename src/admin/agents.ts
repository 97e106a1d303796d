// Agents (OAuth clients) as admins see them: registered metadata joined with what we track about
// each (how it registered, first and last use, disabled). Metadata-document agents have no stored
// registration: what their document said when last used is kept in client_state. Repeat
// registrations of one agent (same name, redirect URIs and software id) are one row.

import { redirectHosts } from '../lib/redirect_uris.js';
import { isMetadataDocumentClientId, verifiedDomain } from '../provider/client_metadata_document.js';
import { agentGroupKey } from '../provider/client_policy.js';
import { type ClientState, METADATA_DOCUMENT } from '../storage/client_state.js';
import type { Stores } from '../storage/index.js';
import { clientName } from '../web/grant_view.js';

export interface AgentView {
  clientId: string;
  /** Self-declared at registration (anyone can choose any name), or from a metadata document. */
  name: string | null;
  /** Whether oidc-provider still holds the registration, or the document was fetched and used. */
  registered: boolean;
  registeredVia: string;
  /** Metadata-document agents: the domain serving the document (verified by the fetch). */
  verifiedDomain: string | null;
  redirectHosts: string[];
  registeredAt: number | null;
  firstUsedAt: number | null;
  lastUsedAt: number | null;
  disabledAt: number | null;
  disabledBy: string | null;
  /** Every registration shown as this one agent (one for metadata-document agents), newest first. */
  clientIds: string[];
  registrations: number;
}

function view(
  clientId: string,
  metadata: Record<string, unknown> | undefined,
  createdAt: number | null,
  state: ClientState | undefined,
): AgentView {
  const issued = metadata?.client_id_issued_at;
  const document = isMetadataDocumentClientId(clientId);
  const seen = document && state?.registeredVia === METADATA_DOCUMENT;
  return {
    clientId,
    name: seen ? (state?.name ?? null) : clientName(metadata),
    registered: metadata !== undefined || seen,
    registeredVia: document ? METADATA_DOCUMENT : (state?.registeredVia ?? 'unknown'),
    verifiedDomain: verifiedDomain(clientId) ?? null,
    redirectHosts: redirectHosts(seen ? state?.redirectUris : metadata?.redirect_uris),
    registeredAt: typeof issued === 'number' ? issued : createdAt,
    firstUsedAt: state?.firstUsedAt ?? null,
    lastUsedAt: state?.lastUsedAt ?? null,
    disabledAt: state?.disabledAt ?? null,
    disabledBy: state?.disabledBy ?? null,
    clientIds: [clientId],
    registrations: 1,
  };
}

const earliest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const latest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/**
 * One row for a group of registrations (given oldest first): the newest registration stands for
 * it (the one the agent uses now), dates span all of them.
 */
function merge(members: AgentView[]): AgentView {
  const newest = members[members.length - 1] as AgentView;
  const row: AgentView = { ...newest, clientIds: [], registrations: members.length };
  for (const m of [...members].reverse()) {
    row.firstUsedAt = earliest(row.firstUsedAt, m.firstUsedAt);
    row.lastUsedAt = latest(row.lastUsedAt, m.lastUsedAt);
    row.registeredAt = earliest(row.registeredAt, m.registeredAt);
    row.clientIds.push(m.clientId);
  }
  return row;
}

/** Every agent: registrations (grouped), metadata-document agents, then ids only known from use. */
export async function listAgents(stores: Stores): Promise<AgentView[]> {
  const states = await stores.clientState.all();
  const groups = new Map<string, AgentView[]>();
  for (const c of await stores.clients.list()) {
    const state = states.get(c.clientId);
    states.delete(c.clientId);
    // Disabled registrations are their own rows: an admin acts on one registration at a time, and
    // an agent that registers anew is not disabled by an old registration being disabled.
    const key = `${agentGroupKey(c.metadata)}${state?.disabledAt != null ? ':disabled' : ''}`;
    const list = groups.get(key) ?? [];
    list.push(view(c.clientId, c.metadata, c.createdAt, state));
    groups.set(key, list);
  }
  const agents = [...groups.values()].map(merge);
  for (const [clientId, state] of states) agents.push(view(clientId, undefined, null, state));
  return agents;
}

/**
 * One agent, or undefined when neither oidc-provider nor our state knows the id. A metadata-document
 * URL is always an agent an admin may act on (disable it before it is first used).
 */
export async function findAgent(stores: Stores, clientId: string): Promise<AgentView | undefined> {
  const client = await stores.clients.find(clientId);
  const state = await stores.clientState.find(clientId);
  if (!client && !state && !isDocumentUrl(clientId)) return undefined;
  return view(clientId, client?.metadata, client?.createdAt ?? null, state);
}

function isDocumentUrl(id: string): boolean {
  if (!isMetadataDocumentClientId(id) || id.length > 2000) return false;
  const url = URL.parse(id);
  return url !== null && url.protocol === 'https:' && url.hostname !== '' && !id.includes('#');
}
