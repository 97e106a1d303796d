// What a login or consent page needs to know about the request in front of it.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import { HttpError } from '../web/errors.js';
import { classifyRedirectUri, redirectHost } from '../lib/redirect_uris.js';

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

export async function describeClient(provider: Provider, details: Interaction): Promise<ClientView> {
  const clientId = String(details.params.client_id ?? '');
  const client = await provider.Client.find(clientId);
  if (!client) throw new HttpError(400, 'invalid_client', 'the agent is no longer registered');
  const redirectUri = String(details.params.redirect_uri ?? client.redirectUris?.[0] ?? '');
  const kind = classifyRedirectUri(redirectUri);
  return {
    id: clientId,
    // Dynamically registered names are self-chosen: shown, but never as verified (only a metadata document's
    // domain is: docs/design.md#consent-that-tells-the-truth).
    name: client.clientName || clientId,
    verified: false,
    redirectHost: redirectHost(redirectUri),
    local: kind.ok && kind.kind !== 'https',
  };
}
