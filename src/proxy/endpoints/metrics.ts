// Prometheus metrics: on the public listener only with the configured bearer token (compared in
// constant time), or without one on the separate loopback listener.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBearer } from '../../lib/bearer.js';
import { constantTimeEqual } from '../../lib/constant_time.js';
import { sendJson } from '../exchange.js';
import type { ProxyMetrics } from '../metrics.js';

export function metricsEndpoint(metrics: ProxyMetrics) {
  return async (res: ServerResponse) => {
    const text = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' }).end(text);
  };
}

/** The public listener's /metrics: 401 unless the request carries the metrics token. */
export function protectedMetricsEndpoint(metrics: ProxyMetrics, token: string) {
  const serve = metricsEndpoint(metrics);
  return async (req: IncomingMessage, res: ServerResponse) => {
    const bearer = parseBearer(req.headers.authorization);
    if (bearer.kind !== 'token' || !constantTimeEqual(bearer.token, token)) {
      sendJson(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer realm="metrics"' });
      return;
    }
    await serve(res);
  };
}
