// Security events: one row in audit_events and one structured log line each. Never a password,
// token, code or secret: callers pass identifiers only, and `details` is for short facts.
import type { Logger } from '../http/logger.js';
import { epochSeconds } from '../lib/duration.js';
import type { Db } from '../storage/db.js';

export interface AuditEvent {
  event: string;
  result: 'success' | 'failure';
  userId?: string | null | undefined;
  clientId?: string | null | undefined;
  resource?: string | null | undefined;
  grantId?: string | null | undefined;
  ip?: string | null | undefined;
  userAgent?: string | null | undefined;
  details?: Record<string, string | number | boolean | null> | undefined;
}

export interface Audit {
  record(event: AuditEvent): void;
}

export function createAudit(db: Db, log: Logger): Audit {
  const insert =
    db.prepare(`INSERT INTO audit_events (at, event, result, user_id, client_id, resource, grant_id, ip, user_agent, details)
    VALUES (@at, @event, @result, @user_id, @client_id, @resource, @grant_id, @ip, @user_agent, @details)`);
  return {
    record(e) {
      const row = {
        at: epochSeconds(),
        event: e.event,
        result: e.result,
        user_id: e.userId ?? null,
        client_id: e.clientId ?? null,
        resource: e.resource ?? null,
        grant_id: e.grantId ?? null,
        ip: e.ip ?? null,
        user_agent: e.userAgent?.slice(0, 300) ?? null,
        details: e.details ? JSON.stringify(e.details) : null,
      };
      insert.run(row);
      log.info({ audit: true, ...row, details: e.details }, e.event);
    },
  };
}
