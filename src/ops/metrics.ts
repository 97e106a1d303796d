// Prometheus metrics (prom-client). One Registry per app, never the global one, so several apps in
// one process (the test suite) keep separate counts.
//
// Every label value comes from a closed set: route templates (never raw paths), known methods,
// audit event names, fixed reasons. Anything else becomes "other", so a scanner requesting random
// URLs cannot grow the number of series.
//
// GET /metrics is served only when MCP_OAUTH_METRICS_TOKEN (or _FILE) is set, and only to a request
// that presents it as a bearer token; otherwise the path does not exist (404).

import type { Context, Middleware } from 'koa';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { AUDIT_EVENTS, type Audit, type AuditEvent } from '../audit/index.js';
import { parseBearer } from '../lib/bearer.js';
import { constantTimeEqual } from '../lib/constant_time.js';
import type { Logger } from '../log/logger.js';
import type { Sql } from '../storage/engine.js';
import { sendError } from '../web/errors.js';
import { startReadOnly } from './read_only.js';
import { routeLabel } from './route_label.js';

export const METRICS_PATH = '/metrics';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const KNOWN_EVENTS = new Set<string>(AUDIT_EVENTS);
const LOGIN_REASONS = new Set(['unknown_user', 'wrong_password', 'disabled']);
const GRANT_TYPES = new Set(['authorization_code', 'refresh_token', 'client_credentials']);
const ACTORS = new Set(['user', 'admin', 'system', 'cli', 'agent']);
const REGISTRATION_VIAS = new Set(['dynamic', 'cli', 'metadata_document', 'static']);

const oneOf = (allowed: Set<string>, value: unknown): string =>
  typeof value === 'string' && allowed.has(value) ? value : 'other';

export interface Metrics {
  registry: Registry;
  /** Counts and times every request; put it first so it sees every response. */
  observeRequests: Middleware;
  /** GET /metrics for a scraper holding the token. */
  endpoint: Middleware;
  /** Wraps the audit writer: logins, tokens, revocations and registrations are counted from its events. */
  meterAudit(audit: Audit): Audit;
}

export interface MetricsOptions {
  /** The bearer token scrapers must send; undefined = metrics are not served. */
  token: string | undefined;
  /** Grants not revoked, computed at scrape time. */
  activeGrants: () => number | Promise<number>;
  log: Logger;
}

/** Grants not revoked (the grant_records_active index makes this cheap). */
export function activeGrantCounter(sql: Sql): () => Promise<number> {
  return async () =>
    (await sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM grant_records WHERE revoked_at IS NULL'))?.n ?? 0;
}

/** Constant-time comparison of the presented bearer token with the configured one. */
function bearerMatches(header: string | undefined, expected: string): boolean {
  const presented = parseBearer(header);
  return presented.kind === 'token' && constantTimeEqual(presented.token, expected);
}

export function createMetrics(opts: MetricsOptions): Metrics {
  const registry = new Registry();
  // Process metrics (CPU, memory, event-loop lag) only when someone can read them: they start
  // observers that live as long as the process.
  if (opts.token !== undefined) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  // Every counter lives in this app's registry; L keeps the label names' literal types (as `as const`
  // did), so inc() is checked against them.
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers });

  const requests = counter(
    'mcp_oauth_http_requests_total',
    'HTTP requests answered, by route template, method and status code',
    ['route', 'method', 'status'],
  );
  const duration = new Histogram({
    name: 'mcp_oauth_http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its response, by route template and method (event streams excluded)',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const throttled = counter(
    'mcp_oauth_throttled_requests_total',
    'Requests refused with 429 Too Many Requests, by route template',
    ['route'],
  );
  const logins = counter(
    'mcp_oauth_logins_total',
    'Sign-in attempts on the login and account pages, by result (success, failure, throttled) and failure reason',
    ['result', 'reason'],
  );
  const tokens = counter(
    'mcp_oauth_tokens_issued_total',
    'Token responses issued at the token endpoint, by grant type',
    ['grant_type'],
  );
  const revocations = counter(
    'mcp_oauth_grant_revocations_total',
    'Grants revoked, by who revoked them (user, admin, system, cli, agent)',
    ['by'],
  );
  const registrations = counter(
    'mcp_oauth_client_registrations_total',
    'Agents (OAuth clients) registered, by how they registered',
    ['via'],
  );
  const theft = counter(
    'mcp_oauth_token_replay_detected_total',
    'Reused refresh tokens and replayed authorization codes (each revokes its grant)',
    ['kind'],
  );
  const events = counter(
    'mcp_oauth_audit_events_total',
    'Audit events recorded by this process, by event name and result',
    ['event', 'result'],
  );
  new Gauge({
    name: 'mcp_oauth_grants_active',
    help: 'Grants that are not revoked (computed when scraped)',
    registers,
    async collect() {
      this.set(await opts.activeGrants());
    },
  });

  // Start series at zero so rate() works from the first scrape and dashboards show the metric.
  for (const result of ['success', 'failure'])
    logins.inc({ result, reason: result === 'success' ? 'none' : 'other' }, 0);
  for (const grantType of ['authorization_code', 'refresh_token']) tokens.inc({ grant_type: grantType }, 0);
  registrations.inc({ via: 'dynamic' }, 0);

  const observe = (event: AuditEvent) => {
    const details = event.details ?? {};
    const result = event.result === 'failure' ? 'failure' : 'success';
    events.inc({ event: KNOWN_EVENTS.has(event.event) ? event.event : 'other', result });
    switch (event.event) {
      case 'login.success':
        logins.inc({ result: 'success', reason: 'none' });
        break;
      case 'login.failure':
        logins.inc({ result: 'failure', reason: oneOf(LOGIN_REASONS, details.reason) });
        break;
      case 'login.throttled':
        logins.inc({ result: 'throttled', reason: 'throttled' });
        break;
      case 'token.issued':
      case 'token.refreshed':
        tokens.inc({ grant_type: oneOf(GRANT_TYPES, details.grant_type) });
        break;
      case 'grant.revoked':
        revocations.inc({ by: oneOf(ACTORS, details.by) });
        break;
      case 'client.registered':
        registrations.inc({ via: oneOf(REGISTRATION_VIAS, details.via) });
        break;
      case 'refresh_token.reuse_detected':
        theft.inc({ kind: 'refresh_token_reuse' });
        break;
      case 'code.replay_detected':
        theft.inc({ kind: 'code_replay' });
        break;
    }
  };

  const record = (ctx: Context, path: string, method: string, started: bigint) => {
    const route = routeLabel(path, ctx);
    const status = ctx.res.statusCode;
    const labels = { route, method: METHODS.has(method) ? method : 'other' };
    requests.inc({ ...labels, status: String(status) });
    if (status === 429) throttled.inc({ route });
    const type = ctx.res.getHeader('content-type');
    if (!(typeof type === 'string' && type.startsWith('text/event-stream'))) {
      duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    }
  };

  const observeRequests: Middleware = async (ctx, next) => {
    const started = process.hrtime.bigint();
    // Middleware later on may rewrite ctx.path (the metadata alias does); label the path asked for.
    const { path, method } = ctx;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      try {
        record(ctx, path, method, started);
      } catch (err) {
        opts.log.error({ err }, 'recording request metrics failed');
      }
    };
    ctx.res.once('finish', finish);
    ctx.res.once('close', finish);
    await next();
  };

  const expected = opts.token;
  const endpoint: Middleware = async (ctx, next) => {
    if (ctx.path !== METRICS_PATH || expected === undefined) return next();
    if (!startReadOnly(ctx)) return;
    if (!bearerMatches(ctx.get('authorization') || undefined, expected)) {
      sendError(ctx, {
        status: 401,
        error: 'invalid_token',
        description: 'metrics need the bearer token from MCP_OAUTH_METRICS_TOKEN',
        headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' },
      });
      return;
    }
    try {
      ctx.body = await registry.metrics();
      ctx.type = registry.contentType;
    } catch (err) {
      opts.log.error({ err }, 'collecting metrics failed');
      sendError(ctx, {
        status: 503,
        error: 'temporarily_unavailable',
        description: 'metrics could not be collected',
      });
    }
  };

  return {
    registry,
    observeRequests,
    endpoint,
    meterAudit(audit) {
      return {
        async record(event) {
          try {
            await audit.record(event);
          } finally {
            // The event happened even if its row could not be written.
            observe(event);
          }
        },
      };
    },
  };
}
