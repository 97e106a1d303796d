// Alerts leave the server two ways besides the console: counted in /metrics, and POSTed to the
// operator's webhook (docs/operating.md#alerts). The webhook never sits on the request path: an
// alert is put on a bounded queue (the oldest is dropped, and counted, when it is full) and one
// sender works through it with a timeout per delivery. Each body is signed with HMAC-SHA256 over
// "<timestamp>.<body>", so the receiver can check who sent it and refuse old replays.
import { createHmac } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import { ALERT_KINDS } from '../audit/alerts.js';
import type { Logger } from '../log/logger.js';
import type { Alert } from '../storage/alerts.js';

export const SIGNATURE_HEADER = 'x-mcp-oauth-signature';
export const TIMESTAMP_HEADER = 'x-mcp-oauth-timestamp';

export interface AlertSinkOptions {
  registry: Registry;
  log: Logger;
  issuer: string;
  webhook?: { url: string; secret: string } | undefined;
  /** Per delivery. */
  timeoutMs?: number;
  /** Alerts waiting at most; the oldest is dropped beyond. */
  maxQueue?: number;
  /** Epoch seconds for the signature's timestamp. */
  now?: () => number;
}

export interface AlertSink {
  /** Counts the alert and queues it for the webhook; returns at once. */
  (alert: Alert): void;
  /** Resolves when the queue is empty (shutdown and tests). */
  drained(): Promise<void>;
}

/** The signature a receiver recomputes: `sha256=` + hex HMAC of `${timestamp}.${body}`. */
export function signAlert(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** What is sent: identifiers, addresses and counts; never a token, secret or tool argument. */
export function alertPayload(alert: Alert, issuer: string) {
  return {
    id: alert.id,
    kind: alert.kind,
    at: alert.at,
    issuer,
    user_id: alert.userId,
    client_id: alert.clientId,
    grant_id: alert.grantId,
    ip: alert.ip,
    details: alert.details,
  };
}

export function createAlertSink(opts: AlertSinkOptions): AlertSink {
  const registers = [opts.registry];
  const raised = new Counter({
    name: 'mcp_oauth_alerts_total',
    help: 'Alerts raised from the audit trail by this process, by kind',
    labelNames: ['kind'] as const,
    registers,
  });
  const deliveries = new Counter({
    name: 'mcp_oauth_alert_webhook_deliveries_total',
    help: 'Alert webhook deliveries, by result (delivered, failed, dropped when the queue was full)',
    labelNames: ['result'] as const,
    registers,
  });
  for (const kind of ALERT_KINDS) raised.inc({ kind }, 0);
  for (const result of ['delivered', 'failed', 'dropped']) deliveries.inc({ result }, 0);
  const known = new Set<string>(ALERT_KINDS);

  const maxQueue = opts.maxQueue ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const queue: Alert[] = [];
  let running: Promise<void> | undefined;

  const deliver = async (alert: Alert, hook: { url: string; secret: string }) => {
    const body = JSON.stringify(alertPayload(alert, opts.issuer));
    const timestamp = String(now());
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signAlert(hook.secret, timestamp, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 300) {
        deliveries.inc({ result: 'delivered' });
        return;
      }
      deliveries.inc({ result: 'failed' });
      opts.log.warn({ alert: alert.id, status: res.status }, 'alert webhook refused the alert');
    } catch (err) {
      deliveries.inc({ result: 'failed' });
      // The URL is the operator's own; the error names no secret.
      opts.log.warn({ alert: alert.id, err: (err as Error).name }, 'alert webhook unreachable');
    }
  };

  const work = async (hook: { url: string; secret: string }) => {
    for (let next = queue.shift(); next; next = queue.shift()) await deliver(next, hook);
    running = undefined;
  };

  const sink = ((alert: Alert) => {
    raised.inc({ kind: known.has(alert.kind) ? alert.kind : 'other' });
    opts.log.warn({ alert: alert.id, kind: alert.kind, client: alert.clientId, user: alert.userId }, 'alert raised');
    const hook = opts.webhook;
    if (!hook) return;
    if (queue.length >= maxQueue) {
      queue.shift();
      deliveries.inc({ result: 'dropped' });
    }
    queue.push(alert);
    running ??= work(hook);
  }) as AlertSink;
  sink.drained = async () => {
    while (running) await running;
  };
  return sink;
}
