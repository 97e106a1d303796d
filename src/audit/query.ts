// Reading and pruning the audit trail: the CLI (`mcp-oauth audit`) and the admin console share
// these, so both offer the same filters.
import type { Sql } from '../storage/engine.js';

export interface AuditFilter {
  userId?: string | undefined;
  clientId?: string | undefined;
  /** An event name, or its family: 'login' matches login.success and login.failure. */
  event?: string | undefined;
  grantId?: string | undefined;
  resource?: string | undefined;
  result?: 'success' | 'failure' | undefined;
  /** Epoch seconds, inclusive. */
  since?: number | undefined;
  /** Epoch seconds, exclusive. */
  until?: number | undefined;
  /** Only rows with a smaller id: the next page after the last row shown. */
  beforeId?: number | undefined;
  /** Default 100, at most 10000. */
  limit?: number | undefined;
}

export interface AuditRow {
  id: number;
  at: number;
  event: string;
  result: string;
  userId: string | null;
  /** The user's name now, when the user exists. */
  username: string | null;
  clientId: string | null;
  /** The agent's self-chosen name, when the agent is still registered. */
  clientName: string | null;
  resource: string | null;
  grantId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown> | null;
}

interface Row {
  id: number;
  at: number;
  event: string;
  result: string;
  user_id: string | null;
  username: string | null;
  client_id: string | null;
  client_name: unknown;
  resource: string | null;
  grant_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: string | null;
}

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 10_000;

function parseDetails(text: string | null): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const toAuditRow = (r: Row): AuditRow => ({
  id: r.id,
  at: r.at,
  event: r.event,
  result: r.result,
  userId: r.user_id,
  username: r.username,
  clientId: r.client_id,
  clientName: typeof r.client_name === 'string' ? r.client_name : null,
  resource: r.resource,
  grantId: r.grant_id,
  ip: r.ip,
  userAgent: r.user_agent,
  details: parseDetails(r.details),
});

/** Newest first. Every filter is optional; all given filters must match. */
export async function queryAudit(sql: Sql, filter: AuditFilter = {}): Promise<AuditRow[]> {
  const where: string[] = [];
  const args: Record<string, string | number> = {};
  const add = (clause: string, name: string, value: string | number | undefined) => {
    if (value === undefined) return;
    where.push(clause);
    args[name] = value;
  };
  add('a.user_id = @user', 'user', filter.userId);
  add('a.client_id = @client', 'client', filter.clientId);
  // Family match without LIKE, so '_' and '%' in the filter are literal. The casts give PostgreSQL
  // the parameter's type, which length() and || cannot infer.
  add(
    "(a.event = @event OR substr(a.event, 1, length(CAST(@event AS TEXT)) + 1) = CAST(@event AS TEXT) || '.')",
    'event',
    filter.event?.replace(/\.\*$/, ''),
  );
  add('a.grant_id = @grant', 'grant', filter.grantId);
  add('a.resource = @resource', 'resource', filter.resource);
  add('a.result = @result', 'result', filter.result);
  add('a.at >= @since', 'since', filter.since);
  add('a.at < @until', 'until', filter.until);
  add('a.id < @before', 'before', filter.beforeId);
  args.limit = Math.min(Math.max(Math.trunc(filter.limit ?? DEFAULT_AUDIT_LIMIT), 1), MAX_AUDIT_LIMIT);
  const text = `SELECT a.*, u.username AS username, ${sql.dialect.jsonText('c.payload', 'client_name')} AS client_name
    FROM audit_events a
    LEFT JOIN users u ON u.id = a.user_id
    LEFT JOIN oidc_models c ON c.model = 'Client' AND c.id = a.client_id
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY a.at DESC, a.id DESC LIMIT @limit`;
  return (await sql.all<Row>(text, args)).map(toAuditRow);
}

/** Deletes rows older than the retention (MCP_OAUTH_AUDIT_RETENTION); returns how many. */
export async function pruneAudit(sql: Sql, now: number, retentionSeconds: number): Promise<number> {
  return (await sql.run('DELETE FROM audit_events WHERE at < ?', [now - retentionSeconds])).changes;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 };

/**
 * A --since value as epoch seconds: an age ('30m', '1h', '2d', '1w'), an epoch timestamp in
 * seconds ('1767225600'), or an ISO 8601 date or time ('2026-01-01', '2026-01-01T12:00:00Z').
 */
export function parseSince(raw: string, now: number): number | undefined {
  const value = raw.trim();
  const age = /^(\d{1,9})([smhdw])$/.exec(value);
  if (age) return now - Number(age[1]) * (UNITS[age[2] ?? 's'] ?? 1);
  if (/^\d{1,12}$/.test(value)) return Number(value);
  if (/^\d{4}-\d\d-\d\d([T ][\d:.]+(Z|[+-]\d\d:?\d\d)?)?$/.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000);
  }
  return undefined;
}
