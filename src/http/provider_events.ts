// What the server records when oidc-provider reports something: agent registrations, token
// issuance (last use of a grant and an agent), and revocations it carried out itself.
import type Provider from 'oidc-provider';
import { epochSeconds } from '../lib/duration.js';
import type { Stores } from '../storage/index.js';
import type { Logger } from './logger.js';

export function wireProviderEvents(provider: Provider, stores: Stores, log: Logger): void {
  provider.on('server_error', (_ctx, err) => log.error({ err }, 'provider server_error'));

  provider.on('registration_create.success', (_ctx, client) => {
    stores.clientState.registered(client.clientId, 'dynamic');
  });

  provider.on('access_token.issued', (token) => {
    const now = epochSeconds();
    const { grantId, clientId } = token as { grantId?: string; clientId?: string };
    if (grantId) stores.grantRecords.used(grantId, now);
    if (clientId) stores.clientState.used(clientId, now);
  });

  // Code replay, refresh-token reuse, or a refresh token revoked at /revoke: oidc-provider has
  // already deleted the grant's tokens; record it and tell resource servers through the feed.
  provider.on('grant.revoked', (ctx, grantId) => {
    const reason =
      ctx.oidc?.route === 'revocation' ? 'refresh token revoked by the agent' : 'code or refresh token reused';
    stores.revocations.providerRevokedGrant(grantId, reason, epochSeconds());
    log.warn({ event: 'grant.revoked', grant_id: grantId, reason }, 'grant revoked');
  });
}
