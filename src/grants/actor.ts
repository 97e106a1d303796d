// Who did it: every lifecycle operation is told who acts, and the audit trail and the grant
// records say so the same way whichever surface (CLI, console, admin API, account page, the
// provider's own events) the change came through.

import { recordGrantRevocations } from '../audit/grant_revocations.js';
import { type Audit, type AuditActor, type AuditDetails, requestSource } from '../audit/index.js';
import type { GrantRecordRepository } from '../storage/grant_records.js';

export interface Actor {
  kind: AuditActor;
  /** The user's or admin's id, `admin-token:<id>` for an admin API token, the agent's client id. */
  id?: string | undefined;
  ip?: string | null | undefined;
  userAgent?: string | null | undefined;
}

/** The operator at the command line. */
export const CLI_ACTOR: Actor = Object.freeze({ kind: 'cli' });

/** An actor acting through an HTTP request (its address and user agent go to the audit trail). */
export function requestActor(
  ctx: Parameters<typeof requestSource>[0],
  kind: AuditActor,
  id?: string | undefined,
): Actor {
  return { kind, id, ...requestSource(ctx) };
}

/** As grant records, client state and domain blocks keep it: 'cli', 'user:<id>', 'admin:<id>', 'admin-token:<id>'. */
export function actedBy(actor: Actor): string {
  if (!actor.id) return actor.kind;
  // An admin API token already names itself.
  return actor.id.startsWith('admin-token:') ? actor.id : `${actor.kind}:${actor.id}`;
}

/** details.by and, when known, details.actor_id. */
export function actorDetails(actor: Actor): AuditDetails {
  return actor.id ? { by: actor.kind, actor_id: actor.id } : { by: actor.kind };
}

/** The audit helpers every operation shares. */
export function auditFor(audit: Audit, grantRecords: GrantRecordRepository) {
  return {
    /** One event for the operation, with the actor and what it changed. */
    event(
      actor: Actor,
      event: string,
      fields: { userId?: string | undefined; clientId?: string | undefined; details?: AuditDetails } = {},
    ): Promise<void> {
      return audit.record({
        event,
        result: 'success',
        userId: fields.userId,
        clientId: fields.clientId,
        ip: actor.ip,
        userAgent: actor.userAgent,
        details: { ...actorDetails(actor), ...fields.details },
      });
    },
    /** One grant.revoked event per grant, naming whose it was. */
    revoked(actor: Actor, ids: readonly string[], extra: { reason?: string; userId?: string } = {}): Promise<void> {
      return recordGrantRevocations(audit, grantRecords, ids, {
        by: actor.kind,
        actorId: actor.id,
        ip: actor.ip,
        userAgent: actor.userAgent,
        ...extra,
      });
    },
  };
}
