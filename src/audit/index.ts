// Security events: one row in audit_events and one structured log line each. Never a password,
// token, code or secret: callers pass identifiers only, and `details` is for short facts.

import { epochSeconds } from '../lib/duration.js';
import type { Logger } from '../log/logger.js';
import type { Sql } from '../storage/engine.js';

export { type AuditFilter, type AuditRow, parseSince, pruneAudit, queryAudit } from './query.js';

/** The events this server records; the admin console offers them as a filter. */
export const AUDIT_EVENTS = [
  'login.success',
  'login.failure',
  'login.throttled',
  'consent.given',
  'consent.denied',
  'client.registered',
  'client.updated',
  'client.deleted',
  'client.disabled',
  'client.enabled',
  'policy.set',
  'policy.removed',
  'agent.approval_requested',
  'agent.approved',
  'agent.refused',
  'agent.document_changed',
  'resource.labelled',
  'token.issued',
  'token.refreshed',
  'refresh_token.reuse_detected',
  'refresh_token.reused_in_grace',
  'code.replay_detected',
  'grant.revoked',
  'user.created',
  'user.disabled',
  'user.enabled',
  'user.password_changed',
  'user.role_changed',
  'user.identity_linked',
  'user.upstream_check_failed',
  'user.totp_enabled',
  'user.totp_removed',
  'user.recovery_codes_replaced',
  'user.passkey_added',
  'user.passkey_removed',
  'user.factors_reset',
  'key.rotated',
  'admin_token.created',
  'admin_token.revoked',
] as const;

export type AuditEventName = (typeof AUDIT_EVENTS)[number];

/** Who revoked a grant or changed a user or agent: recorded as `details.by`. */
export type AuditActor = 'user' | 'admin' | 'system' | 'cli' | 'agent';

export type AuditDetails = Record<string, string | number | boolean | null>;

export interface AuditEvent {
  /** One of AUDIT_EVENTS; a string so a new event needs no change here. */
  event: AuditEventName | (string & {});
  result: 'success' | 'failure';
  userId?: string | null | undefined;
  clientId?: string | null | undefined;
  resource?: string | null | undefined;
  grantId?: string | null | undefined;
  ip?: string | null | undefined;
  userAgent?: string | null | undefined;
  details?: AuditDetails | undefined;
}

export interface Audit {
  /** Resolves once the row is written (inside the caller's transaction when there is one). */
  record(event: AuditEvent): Promise<void>;
}

// Attacks in progress rather than routine events: logged one level up so an operator's alerting sees them.
const WARN = new Set<string>(['refresh_token.reuse_detected', 'code.replay_detected', 'login.throttled']);

const MAX_TEXT = 300;

const clip = (value: string | null | undefined): string | null => (value == null ? null : value.slice(0, MAX_TEXT));

function clipDetails(details: AuditDetails | undefined): AuditDetails | undefined {
  if (!details) return undefined;
  return Object.fromEntries(Object.entries(details).map(([k, v]) => [k, typeof v === 'string' ? clip(v) : v]));
}

const INSERT = `INSERT INTO audit_events (at, event, result, user_id, client_id, resource, grant_id, ip, user_agent, details)
  VALUES (@at, @event, @result, @user_id, @client_id, @resource, @grant_id, @ip, @user_agent, @details)`;

export function createAudit(sql: Sql, log: Logger, opts: { now?: () => number } = {}): Audit {
  const now = opts.now ?? (() => epochSeconds());
  return {
    async record(e) {
      const details = clipDetails(e.details);
      const row = {
        at: now(),
        event: e.event,
        result: e.result,
        user_id: e.userId ?? null,
        client_id: clip(e.clientId),
        resource: clip(e.resource),
        grant_id: e.grantId ?? null,
        ip: e.ip ?? null,
        user_agent: clip(e.userAgent),
        details: details ? JSON.stringify(details) : null,
      };
      await sql.run(INSERT, row);
      log[WARN.has(e.event) ? 'warn' : 'info']({ audit: true, ...row, details }, e.event);
    },
  };
}

/** Where a request came from: ctx.ip honours MCP_OAUTH_TRUST_PROXY (Koa's app.proxy). */
export function requestSource(ctx: { ip?: string; get(field: string): string } | undefined): {
  ip: string | null;
  userAgent: string | null;
} {
  if (!ctx) return { ip: null, userAgent: null };
  return { ip: ctx.ip || null, userAgent: ctx.get('user-agent') || null };
}
