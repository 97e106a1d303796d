// The audit record: one line per MCP call (one per message of a batch) saying which agent acted for
// which user, on what, with what decision and what the upstream answered. Written in one place,
// when the exchange ends: after the answer, or when an event stream closes. Never the token, never
// the call's arguments.
import type { Logger } from 'pino';
import type { Exchange } from './exchange.js';
import type { ProxyMetrics } from './metrics.js';
import type { Step } from './pipeline.js';

export function writeAudit(log: Logger, metrics: ProxyMetrics, x: Exchange): void {
  metrics.decisions.inc({ outcome: x.outcome });
  const base = {
    audit: 'mcp_call',
    request_id: x.requestId,
    resource: x.route.config.resource,
    user: x.token?.sub,
    agent: x.token?.clientId,
    grant: x.token?.grantId,
    revision: x.revision,
    decision: x.outcome,
    closed: x.closed,
    upstream_status: x.upstreamStatus,
    latency_ms: x.latencyMs,
  };
  const calls = x.calls ?? [];
  if (calls.length === 0) {
    const method = x.method === 'GET' ? 'stream' : x.method === 'DELETE' ? 'session/delete' : undefined;
    log.info({ ...base, method });
    return;
  }
  for (const c of calls) log.info({ ...base, method: c.method, tool: c.tool });
}

/** The first step of every decision pipeline: the record is written however the rest ends. */
export function audit(log: Logger, metrics: ProxyMetrics): Step {
  return async (x, next) => {
    try {
      await next();
    } catch (err) {
      x.outcome = 'internal_error';
      throw err;
    } finally {
      writeAudit(log, metrics, x);
    }
  };
}
