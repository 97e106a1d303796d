// Agents (OAuth clients) as admins see them: registered metadata joined with what we track about
// each (how it registered, first and last use, disabled).
import { clientName } from '../account/grant_view.js';
import { redirectHosts } from '../lib/redirect_uris.js';
import type { ClientState } from '../storage/client_state.js';
import type { Stores } from '../storage/index.js';

export interface AgentView {
  clientId: string;
  /** Self-declared at registration: anyone can choose any name. */
  name: string | null;
  /** Whether oidc-provider still holds the registration (false: deleted, or never stored). */
  registered: boolean;
  registeredVia: string;
  redirectHosts: string[];
  registeredAt: number | null;
  firstUsedAt: number | null;
  lastUsedAt: number | null;
  disabledAt: number | null;
  disabledBy: string | null;
}

function view(
  clientId: string,
  metadata: Record<string, unknown> | undefined,
  createdAt: number | null,
  state: ClientState | undefined,
): AgentView {
  const issued = metadata?.client_id_issued_at;
  return {
    clientId,
    name: clientName(metadata),
    registered: metadata !== undefined,
    registeredVia: state?.registeredVia ?? 'unknown',
    redirectHosts: redirectHosts(metadata?.redirect_uris),
    registeredAt: typeof issued === 'number' ? issued : createdAt,
    firstUsedAt: state?.firstUsedAt ?? null,
    lastUsedAt: state?.lastUsedAt ?? null,
    disabledAt: state?.disabledAt ?? null,
    disabledBy: state?.disabledBy ?? null,
  };
}

/** Every agent: registered ones, then ones only known from their use or an admin's action. */
export function listAgents(stores: Stores): AgentView[] {
  const states = stores.clientState.all();
  const agents = stores.clients.list().map((c) => {
    const state = states.get(c.clientId);
    states.delete(c.clientId);
    return view(c.clientId, c.metadata, c.createdAt, state);
  });
  for (const [clientId, state] of states) agents.push(view(clientId, undefined, null, state));
  return agents;
}

/** One agent, or undefined when neither oidc-provider nor our state knows the id. */
export function findAgent(stores: Stores, clientId: string): AgentView | undefined {
  const client = stores.clients.find(clientId);
  const state = stores.clientState.find(clientId);
  if (!client && !state) return undefined;
  return view(clientId, client?.metadata, client?.createdAt ?? null, state);
}
