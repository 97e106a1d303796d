// One grant.revoked row per revoked grant, naming whose grant it was, which agent and which MCP
// server, so the trail answers "who cut off what" without the grant still existing.
import type { GrantRecordRepository } from '../storage/grant_records.js';
import type { Audit, AuditActor, AuditDetails } from './index.js';

export interface RevocationContext {
  by: AuditActor;
  /** Who exactly, when known: the admin's or user's id. */
  actorId?: string | undefined;
  reason?: string | undefined;
  /** The revoked grants' owner, when no grant record names one (grants made before records existed). */
  userId?: string | undefined;
  ip?: string | null | undefined;
  userAgent?: string | null | undefined;
}

export async function recordGrantRevocations(
  audit: Audit,
  grantRecords: GrantRecordRepository,
  grantIds: readonly string[],
  ctx: RevocationContext,
): Promise<void> {
  const details: AuditDetails = { by: ctx.by };
  if (ctx.actorId) details.actor_id = ctx.actorId;
  if (ctx.reason) details.reason = ctx.reason;
  for (const grantId of grantIds) {
    const record = await grantRecords.find(grantId);
    await audit.record({
      event: 'grant.revoked',
      result: 'success',
      userId: record?.accountId ?? ctx.userId,
      clientId: record?.clientId,
      resource: record?.resource,
      grantId,
      ip: ctx.ip,
      userAgent: ctx.userAgent,
      details,
    });
  }
}
