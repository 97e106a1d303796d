// What the server records when oidc-provider reports something: agent registrations, token
// issuance (last use of a grant and an agent), and revocations it carried out itself. Each is also
// an audit event. Token, code and registration-access-token values are on the entities but are
// never read here: only ids (grant, client, account) and the resource and scope.
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { type Audit, type AuditDetails, type AuditEvent, requestSource } from '../audit/index.js';
import { createLifecycle, requestActor } from '../grants/index.js';
import { epochSeconds } from '../lib/duration.js';
import { settleRequestWrites, trackRequestWrite } from '../lib/request_writes.js';
import type { Logger } from '../log/logger.js';
import { recentUseMarks } from '../storage/client_state.js';
import type { Stores } from '../storage/index.js';

const REUSE_REASON = 'code or refresh token reused';
const AGENT_REASON = 'refresh token revoked by the agent';

/** Waits, after the provider has answered, for the writes its events started (src/lib/request_writes.ts). */
export const settleProviderEvents: Middleware = (_ctx, next) => settleRequestWrites(next);

export function wireProviderEvents(provider: Provider, stores: Stores, log: Logger, audit: Audit): void {
  // The events fire after the provider has saved its state (a rotated refresh token, a new client):
  // a failure to write the audit row is logged, not turned into an error the agent could not recover from.
  const track = trackRequestWrite;
  const record = (ctx: KoaContextWithOIDC | undefined, event: AuditEvent) =>
    track(audit.record({ ...requestSource(ctx), ...event }), (err) =>
      log.error({ err, event: event.event }, 'audit record failed'),
    );

  const lifecycle = createLifecycle(stores, audit);
  // The revocation is the provider's already; what is recorded here must not turn into an error
  // the agent could not recover from: a failure is logged.
  const guarded = (what: string, fn: () => Promise<unknown>) =>
    track(fn(), (err) => log.error({ err, event: what }, 'recording a provider revocation failed'));

  provider.on('server_error', (_ctx, err) => log.error({ err }, 'provider server_error'));

  provider.on('registration_create.success', (ctx, client) => {
    // One after the other, as before: the registration is known before its audit event is written.
    track(
      (async () => {
        await stores.clientState.registered(client.clientId, 'dynamic');
        await audit.record({
          ...requestSource(ctx),
          event: 'client.registered',
          result: 'success',
          clientId: client.clientId,
          details: { name: client.clientName ?? null, via: 'dynamic' },
        });
      })(),
      (err) => log.error({ err, event: 'client.registered' }, 'recording a registration failed'),
    );
  });
  // The event carries the client as it was; the new metadata is the response body (of which only
  // the name is read: the body also holds the secret and the registration access token).
  provider.on('registration_update.success', (ctx, client) => {
    const name = (ctx.body as { client_name?: unknown } | undefined)?.client_name;
    const details: AuditDetails = { name: typeof name === 'string' ? name : null };
    if ((client.clientName ?? null) !== details.name) details.previous_name = client.clientName ?? null;
    record(ctx, { event: 'client.updated', result: 'success', clientId: client.clientId, details });
  });
  // RFC 7592 §2.3: the agent deleted itself.
  provider.on('registration_delete.success', (ctx, client) =>
    guarded('client.deleted', () => lifecycle.clientDeletedItself(requestActor(ctx, 'agent'), client.clientId)),
  );

  // Both "last used" updates commit in one transaction (a token request's own, when it has one);
  // a mark this process made within the resolution is not sent again.
  const recent = recentUseMarks();
  const markUsed = (grantId: string | undefined, clientId: string | undefined, now: number) => {
    const grant = grantId !== undefined && recent.due(`grant:${grantId}`, now) ? grantId : undefined;
    const client = clientId !== undefined && recent.due(`client:${clientId}`, now) ? clientId : undefined;
    if (grant === undefined && client === undefined) return;
    track(
      stores.sql.transaction(async () => {
        // Noted only when written: a grant whose record is not there yet is marked at its next token.
        if (grant && (await stores.grantRecords.used(grant, now))) recent.noted(`grant:${grant}`, now);
        if (client && (await stores.clientState.used(client, now))) recent.noted(`client:${client}`, now);
      }),
      (err) => log.error({ err, event: 'token.used' }, 'recording a token use failed'),
    );
  };
  provider.on('access_token.issued', (token) => {
    const { grantId, clientId } = token as { grantId?: string; clientId?: string };
    if (grantId || clientId) markUsed(grantId, clientId, epochSeconds());
  });

  // A service client's token (client credentials): no grant, the client alone was used.
  provider.on('client_credentials.issued', (token) => {
    const { clientId } = token as { clientId?: string };
    if (clientId) markUsed(undefined, clientId, epochSeconds());
  });

  provider.on('grant.success', (ctx) => {
    const grantType = ctx.oidc.params?.grant_type;
    const event = grantType === 'refresh_token' ? 'token.refreshed' : 'token.issued';
    const { Grant: grant } = ctx.oidc.entities;
    const at = (ctx.oidc.entities.AccessToken ?? ctx.oidc.entities.ClientCredentials) as
      | (typeof ctx.oidc.entities.AccessToken & { accountId?: string; grantId?: string })
      | undefined;
    record(ctx, {
      event,
      result: 'success',
      userId: at?.accountId ?? grant?.accountId,
      clientId: ctx.oidc.client?.clientId,
      resource: at?.resourceServer?.identifier(),
      grantId: at?.grantId ?? grant?.jti,
      details: { grant_type: typeof grantType === 'string' ? grantType : null, scope: at?.scope ?? null },
    });
  });

  // Code replay, refresh-token reuse, or a refresh token revoked at /revoke: oidc-provider has
  // already deleted the grant's tokens; record it and tell resource servers through the feed.
  provider.on('grant.revoked', (ctx, grantId) => {
    const byAgent = ctx.oidc?.route === 'revocation';
    // RFC 9700 §4.14.2 (refresh token reuse), OAuth 2.1 §4.1.3 (code replay): either is a sign of theft.
    const grantType = ctx.oidc?.params?.grant_type;
    const detected = grantType === 'authorization_code' ? 'code.replay_detected' : 'refresh_token.reuse_detected';
    guarded('grant.revoked', () =>
      lifecycle.providerRevokedGrant(requestActor(ctx, byAgent ? 'agent' : 'system'), grantId, {
        reason: byAgent ? AGENT_REASON : REUSE_REASON,
        clientId: ctx.oidc?.client?.clientId,
        detected: byAgent ? undefined : detected,
      }),
    );
  });
}
