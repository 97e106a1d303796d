// Revoking grants: one, a user's, an agent's; and recording the revocations oidc-provider carried
// out itself (code replay, refresh-token reuse, a refresh token revoked by the agent at /revoke).
import type { Audit } from '../audit/index.js';
import { epochSeconds } from '../lib/duration.js';
import type { Stores } from '../storage/index.js';
import type { User } from '../storage/users.js';
import { type Actor, actedBy, auditFor } from './actor.js';

export function grantOperations(stores: Stores, audit: Audit) {
  const { sql, revocations, grantRecords } = stores;
  const log = auditFor(audit, grantRecords);

  return {
    /** Revokes one grant: 'unknown' when no such grant ever existed, 'already' when it was revoked before. */
    async revokeGrant(actor: Actor, id: string): Promise<'revoked' | 'already' | 'unknown'> {
      if (!(await revocations.revokeGrant(id, actedBy(actor), epochSeconds()))) {
        return (await grantRecords.find(id)) ? 'already' : 'unknown';
      }
      await log.revoked(actor, [id]);
      return 'revoked';
    },
    /** Revokes several grants together (one transaction); returns those that were still live. */
    async revokeGrants(actor: Actor, ids: readonly string[]): Promise<string[]> {
      const by = actedBy(actor);
      const now = epochSeconds();
      const done = await sql.transaction(async () => {
        const live: string[] = [];
        for (const id of ids) if (await revocations.revokeGrant(id, by, now)) live.push(id);
        return live;
      });
      await log.revoked(actor, done);
      return done;
    },
    /** Every grant of the user, or only those to one agent. */
    async revokeUserGrants(actor: Actor, user: User, clientId: string | null): Promise<string[]> {
      const ids = await revocations.revokeUserGrants(user.id, clientId, actedBy(actor), epochSeconds());
      await log.revoked(actor, ids, { userId: user.id });
      return ids;
    },
    /** Every grant the agent holds. */
    async revokeClientGrants(actor: Actor, clientId: string, reason?: string): Promise<string[]> {
      const ids = await revocations.revokeClientGrants(clientId, actedBy(actor), epochSeconds(), reason);
      await log.revoked(actor, ids, reason ? { reason } : {});
      return ids;
    },
    /**
     * oidc-provider already deleted the grant's tokens (code replay, refresh-token reuse, or the
     * agent revoked its refresh token): mark the record, tell resource servers through the feed.
     * `detected` names the theft signal, when it was one (RFC 9700 §4.14.2, OAuth 2.1 §4.1.3).
     */
    async providerRevokedGrant(
      actor: Actor,
      grantId: string,
      opts: { reason: string; clientId?: string | undefined; detected?: string | undefined },
    ): Promise<void> {
      await revocations.providerRevokedGrant(grantId, opts.reason, epochSeconds());
      const owner = await grantRecords.find(grantId);
      const who = {
        result: 'success' as const,
        userId: owner?.accountId,
        clientId: opts.clientId ?? owner?.clientId,
        resource: owner?.resource,
        grantId,
        ip: actor.ip,
        userAgent: actor.userAgent,
      };
      if (opts.detected) {
        await audit.record({ ...who, event: opts.detected, result: 'failure', details: { action: 'grant revoked' } });
      }
      await audit.record({ ...who, event: 'grant.revoked', details: { by: actor.kind, reason: opts.reason } });
    },
  };
}
