// Prometheus metrics for the proxy, in a registry of its own (several proxies can run in one
// process, as in the tests). Served at /metrics only behind a token or on a separate listener.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface ProxyMetrics {
  registry: Registry;
  requests: Counter<'route' | 'method' | 'status'>;
  decisions: Counter<'outcome'>;
  upstreamLatency: Histogram<'route' | 'status'>;
  keySetRefreshes: Counter<'result'>;
}

export function createProxyMetrics(opts: {
  defaults?: boolean;
  feedLagSeconds: () => number | undefined;
}): ProxyMetrics {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: 'mcp_proxy_' });
  const requests = new Counter({
    name: 'mcp_proxy_requests_total',
    help: 'HTTP requests answered by the proxy, by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const decisions = new Counter({
    name: 'mcp_proxy_decisions_total',
    help: 'Access decisions by outcome (allow, no_token, invalid_token, revoked, insufficient_scope, ...)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const upstreamLatency = new Histogram({
    name: 'mcp_proxy_upstream_latency_seconds',
    help: 'Time from forwarding a request to the upstream response headers',
    labelNames: ['route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const keySetRefreshes = new Counter({
    name: 'mcp_proxy_keyset_refreshes_total',
    help: 'Fetches of the authorization server key set, by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'mcp_proxy_revocation_feed_lag_seconds',
    help: 'Seconds since the revocation feed last reached the proxy (message, heartbeat or poll); -1 before the first sync',
    registers: [registry],
    collect() {
      this.set(opts.feedLagSeconds() ?? -1);
    },
  });
  return { registry, requests, decisions, upstreamLatency, keySetRefreshes };
}
