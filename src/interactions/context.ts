// What a login or consent page needs to know about the request in front of it.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import { HttpError } from '../web/errors.js';
import { classifyRedirectUri, redirectHost } from '../lib/redirect_uris.js';
import { verifiedDomain } from '../provider/client_metadata_document.js';

export interface ClientView {
  id: string;
  name: string;
  verified: boolean;
  redirectHost: string;
  local: boolean;
}

export async function loadInteraction(provider: Provider, ctx: Context): Promise<Interaction> {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  // The interaction cookie names one interaction; a URL naming another is refused.
  if (details.uid !== ctx.params.uid)
    throw new HttpError(400, 'invalid_request', 'this sign-in link does not belong to this browser');
  return details;
}

/**
 * Whether an agent's identity is verified, for every page that names it. A metadata-document
 * client is identified by the https URL of its document, so the domain serving it is its own; a
 * registered client's name is whatever the registration said.
 */
export function clientVerification(clientId: string): { verified: boolean; verifiedDomain: string | null } {
  const domain = verifiedDomain(clientId) ?? null;
  return { verified: domain !== null, verifiedDomain: domain };
}

export async function describeClient(provider: Provider, details: Interaction): Promise<ClientView> {
  const clientId = String(details.params.client_id ?? '');
  const client = await provider.Client.find(clientId);
  if (!client) throw new HttpError(400, 'invalid_client', 'the agent is no longer registered');
  const redirectUri = String(details.params.redirect_uri ?? client.redirectUris?.[0] ?? '');
  const kind = classifyRedirectUri(redirectUri);
  return {
    id: clientId,
    name: client.clientName || clientId,
    verified: clientVerification(clientId).verified,
    redirectHost: redirectHost(redirectUri),
    local: kind.ok && kind.kind !== 'https',
  };
}
