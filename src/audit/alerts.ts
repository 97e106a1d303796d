// Alerts: the audit trail, acted on (docs/operating.md#alerts). After each audit event is recorded,
// the rule for its kind looks at the trail and may raise an alert an admin should look at. Each
// alert is raised once per subject and period (its dedupe key), stored, and handed to `onAlert`
// (the operator webhook and /metrics, src/ops/alert_webhook.ts). Rules read identifiers, scopes,
// addresses and counts only, so no alert can carry a token, a secret or a tool's arguments.
//
// The rules never break the request that recorded the event: a failure is logged.

import { BoundedMap } from '../lib/bounded_map.js';
import { epochSeconds } from '../lib/duration.js';
import type { Logger } from '../log/logger.js';
import type { Alert, AlertDetails, AlertRepository } from '../storage/alerts.js';
import type { Sql } from '../storage/engine.js';
import type { Audit, AuditEvent } from './index.js';

export const ALERT_KINDS = [
  'agent.first_write',
  'agent.token_rate',
  'user.unusual_hour',
  'user.new_address_write_consent',
  'grant.token_reuse',
  'registration.burst',
  'agent.document_changed',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface AlertRules {
  /** Times an agent's usual hourly tokens that raise an alert; 0 = off. */
  tokenRateFactor: number;
  /** Fewest tokens in an hour for the rate rule. */
  tokenRateMin: number;
  /** Registrations from one address in an hour; 0 = off. */
  registrationsPerHour: number;
  /** Seconds between a sign-in from a new address and a consent to write; 0 = off. */
  newAddressWindow: number;
  /** Seconds of history a user needs before the unusual-hour rule applies; 0 = off. */
  unusualHourHistory: number;
}

export interface AlertDeps {
  sql: Sql;
  alerts: AlertRepository;
  rules: AlertRules;
  log: Logger;
  /** The write scopes of an MCP server (its `isWrite` scopes). */
  writeScopes(resource: string): Promise<ReadonlySet<string>>;
  /** One key for an agent's repeat registrations (the console's agent grouping). */
  agentKey(clientId: string): Promise<string>;
  /** Every new alert: must return at once (the webhook queues it). */
  onAlert?: (alert: Alert) => void;
  /** Epoch seconds; the audit trail's clock. */
  now?: () => number;
}

const HOUR = 3600;
const DAY = 86400;
const TOKEN_EVENTS = "event IN ('token.issued', 'token.refreshed')";
// The usual rate is the agent's average hourly tokens over this long (the hour being judged excluded).
const BASELINE = 7 * DAY;
// The unusual-hour rule looks this many days back for the same hour of the day.
const HOUR_LOOKBACK_DAYS = 30;

const scopesOf = (e: AuditEvent): string[] => {
  const raw = e.details?.scopes ?? e.details?.scope;
  return typeof raw === 'string' ? raw.split(' ').filter(Boolean) : [];
};

/** Wraps the audit writer: every recorded event is then run past the rules. */
export function withAlerts(audit: Audit, deps: AlertDeps): Audit {
  const rules = createAlertRules(deps);
  return {
    async record(event) {
      await audit.record(event);
      try {
        await rules(event);
      } catch (err) {
        deps.log.error({ err, event: event.event }, 'alert rules failed');
      }
    },
  };
}

const TOKENS_SINCE = `SELECT COUNT(*) AS n FROM audit_events
  WHERE client_id = ? AND ${TOKEN_EVENTS} AND at >= ? AND at < ?`;
// The same count stopped at a limit (the last parameter): the rate rule needs to know only
// whether the week before held fewer tokens than that.
const TOKENS_SINCE_AT_MOST = `SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM audit_events
  WHERE client_id = ? AND ${TOKEN_EVENTS} AND at >= ? AND at < ? LIMIT ?) AS tokens`;
const FIRST_EVENT = 'SELECT MIN(at) AS at FROM audit_events WHERE user_id = ?';
const TOKEN_IN_HOUR = `SELECT 1 AS one FROM audit_events
  WHERE user_id = ? AND ${TOKEN_EVENTS} AND at >= ? AND at < ? LIMIT 1`;
const LAST_SIGN_IN = `SELECT id, at, ip FROM audit_events
  WHERE user_id = ? AND event = 'login.success' AND at >= ? ORDER BY at DESC, id DESC LIMIT 1`;
const EARLIER_SIGN_IN = `SELECT
    EXISTS (SELECT 1 FROM audit_events WHERE user_id = @user AND event = 'login.success' AND id < @id) AS earlier,
    EXISTS (SELECT 1 FROM audit_events WHERE user_id = @user AND event = 'login.success' AND id < @id AND ip = @ip) AS here`;
const REGISTRATIONS_FROM = `SELECT COUNT(*) AS n FROM audit_events
  WHERE ip = ? AND event = 'client.registered' AND at >= ?`;

/** Entries of each memory the rules keep (below); forgetting costs only a read. */
const REMEMBERED = 50_000;

export function createAlertRules(deps: AlertDeps): (e: AuditEvent) => Promise<void> {
  const { sql, rules } = deps;
  const now = deps.now ?? (() => epochSeconds());
  const count = async (text: string, params: (string | number)[]) =>
    (await sql.get<{ n: number }>(text, params))?.n ?? 0;
  // Facts read from the trail that later events cannot undo (an alert raised, a user's first event,
  // a token in an earlier day's hour), so the rules that run at every token do not read them again.
  // Only reads are remembered, never what a rule wrote itself (an alert it raised is read back by
  // the next event), which a rollback could take back.
  const raisedKeys = new BoundedMap<string, true>(REMEMBERED);
  const firstWriteOf = new BoundedMap<string, true>(REMEMBERED);
  const firstEventOf = new BoundedMap<string, number>(REMEMBERED);
  const usualHours = new BoundedMap<string, true>(REMEMBERED);

  /** Whether the alert with this dedupe key was raised (by any node); a yes is remembered. */
  const isRaised = async (key: string) => {
    if (raisedKeys.get(key)) return true;
    if (!(await deps.alerts.raised(key))) return false;
    raisedKeys.set(key, true);
    return true;
  };

  const raise = async (kind: AlertKind, e: AuditEvent, dedupe: string, details: AlertDetails, at: number) => {
    // Most patterns repeat (an agent writes with every token): "raised already" is read once.
    if (await isRaised(`${kind}:${dedupe}`)) return;
    const alert = await deps.alerts.raise({
      kind,
      at,
      userId: e.userId,
      clientId: e.clientId,
      grantId: e.grantId,
      ip: e.ip,
      details,
      dedupe: `${kind}:${dedupe}`,
    });
    if (alert) deps.onAlert?.(alert);
  };

  const writeScopesIn = async (e: AuditEvent): Promise<string[]> => {
    if (!e.resource) return [];
    const write = await deps.writeScopes(e.resource);
    return scopesOf(e).filter((s) => write.has(s));
  };

  // An agent's first write scope, by consent or by token: once per agent (its repeat
  // registrations count as one), so an agent writing every day is not news.
  const firstWrite = async (e: AuditEvent, at: number) => {
    if (!e.clientId || firstWriteOf.get(e.clientId)) return;
    const write = await writeScopesIn(e);
    if (write.length === 0) return;
    const agent = await deps.agentKey(e.clientId);
    if (await isRaised(`agent.first_write:${agent}`)) {
      firstWriteOf.set(e.clientId, true);
      return;
    }
    await raise(
      'agent.first_write',
      e,
      agent,
      { resource: e.resource ?? null, scopes: write.join(' '), via: e.event },
      at,
    );
  };

  // Tokens in the last hour against the agent's average hour of the past week.
  const tokenRate = async (e: AuditEvent, at: number) => {
    if (rules.tokenRateFactor <= 0 || !e.clientId) return;
    // The counts read every token of the agent's hour (and week): once the hour's alert is raised,
    // one indexed read ends the rule for the rest of the hour.
    const dedupe = `${e.clientId}:${Math.floor(at / HOUR)}`;
    if (await isRaised(`agent.token_rate:${dedupe}`)) return;
    const lastHour = await count(TOKENS_SINCE, [e.clientId, at - HOUR + 1, at + 1]);
    // The usual rate counts as at least 1 an hour, so no more than `factor` tokens never alert.
    if (lastHour < rules.tokenRateMin || lastHour <= rules.tokenRateFactor) return;
    // lastHour > factor * usual exactly when the week before held fewer than lastHour * hours /
    // factor tokens: counting up to that many answers it, however busy the agent usually is.
    const enough = Math.ceil((lastHour * (BASELINE / HOUR)) / rules.tokenRateFactor);
    const before = await count(TOKENS_SINCE_AT_MOST, [e.clientId, at - HOUR - BASELINE + 1, at - HOUR + 1, enough]);
    const usual = before / (BASELINE / HOUR);
    if (lastHour <= rules.tokenRateFactor * Math.max(usual, 1)) return;
    await raise(
      'agent.token_rate',
      e,
      dedupe,
      { tokens_last_hour: lastHour, usual_per_hour: Math.round(usual * 100) / 100, factor: rules.tokenRateFactor },
      at,
    );
  };

  // A token at an hour of the day (UTC) the user has not had one in the past 30 days, once the
  // user has enough history for "never" to mean something.
  const unusualHour = async (e: AuditEvent, at: number) => {
    if (rules.unusualHourHistory <= 0 || !e.userId) return;
    // A user's first event stays their first. A purge can only make the trail's first event later;
    // the rule then still counts the history the user had.
    let first = firstEventOf.get(e.userId) ?? null;
    if (first === null) {
      first = (await sql.get<{ at: number | null }>(FIRST_EVENT, [e.userId]))?.at ?? null;
      if (first !== null) firstEventOf.set(e.userId, first);
    }
    if (first === null || first > at - rules.unusualHourHistory) return;
    const hourStart = at - (at % HOUR);
    // Once a token in this hour of an earlier day is found, the hour is usual until it ends.
    const usual = `${e.userId}:${hourStart}`;
    if (usualHours.get(usual)) return;
    for (let d = 1; d <= HOUR_LOOKBACK_DAYS; d++) {
      const from = hourStart - d * DAY;
      if (await sql.get(TOKEN_IN_HOUR, [e.userId, from, from + HOUR])) {
        usualHours.set(usual, true);
        return;
      }
    }
    const hour = new Date(at * 1000).getUTCHours();
    await raise('user.unusual_hour', e, `${e.userId}:${Math.floor(at / DAY)}:${hour}`, { hour_utc: hour }, at);
  };

  // Consent to a write scope shortly after a sign-in from an address this user never signed in
  // from before (a user with no earlier sign-in has no usual address: nothing to compare).
  const newAddressWrite = async (e: AuditEvent, at: number) => {
    if (rules.newAddressWindow <= 0 || !e.userId) return;
    const write = await writeScopesIn(e);
    if (write.length === 0) return;
    const signIn = await sql.get<{ id: number; at: number; ip: string | null }>(LAST_SIGN_IN, [
      e.userId,
      at - rules.newAddressWindow,
    ]);
    if (!signIn?.ip) return;
    // EXISTS is 0/1 on SQLite and a boolean on PostgreSQL: read both as truthy.
    const seen = await sql.get<{ earlier: number | boolean; here: number | boolean }>(EARLIER_SIGN_IN, {
      user: e.userId,
      id: signIn.id,
      ip: signIn.ip,
    });
    if (!seen?.earlier || seen.here) return;
    await raise(
      'user.new_address_write_consent',
      { ...e, ip: signIn.ip },
      `${e.userId}:${signIn.ip}`,
      { resource: e.resource ?? null, scopes: write.join(' '), signed_in_at: signIn.at },
      at,
    );
  };

  const reuse = async (e: AuditEvent, at: number) => {
    await raise('grant.token_reuse', e, `${e.grantId ?? `${e.clientId}:${at}`}`, { detected: e.event }, at);
  };

  const registrations = async (e: AuditEvent, at: number) => {
    if (rules.registrationsPerHour <= 0 || !e.ip) return;
    const n = await count(REGISTRATIONS_FROM, [e.ip, at - HOUR + 1]);
    if (n < rules.registrationsPerHour) return;
    await raise('registration.burst', e, `${e.ip}:${Math.floor(at / HOUR)}`, { registrations_last_hour: n }, at);
  };

  return async (e) => {
    const at = now();
    // Detections are recorded as failures (of the token presented); everything else counts only when it happened.
    if (e.event === 'refresh_token.reuse_detected' || e.event === 'code.replay_detected') return reuse(e, at);
    if (e.result !== 'success') return;
    switch (e.event) {
      case 'consent.given':
        await firstWrite(e, at);
        await newAddressWrite(e, at);
        break;
      case 'token.issued':
      case 'token.refreshed':
        await firstWrite(e, at);
        await tokenRate(e, at);
        await unusualHour(e, at);
        break;
      case 'client.registered':
        await registrations(e, at);
        break;
      case 'agent.document_changed':
        // Once per grant and new document: the user is asked again, the admin told once.
        await raise(
          'agent.document_changed',
          e,
          `${e.grantId}:${e.details?.digest}`,
          { changed: String(e.details?.changed ?? '') },
          at,
        );
        break;
    }
  };
}
