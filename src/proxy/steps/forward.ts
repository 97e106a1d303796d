// Sends the checked request to the route's upstream without the token: the verified identity (or a
// static upstream credential) instead, and the body the proxy already read. An unreachable or silent
// upstream is a 502/504 for the client, never the proxy's own 500. A modern (2026-07-28) request
// goes without the session headers that revision does not have: a stray Mcp-Session-Id or
// Last-Event-ID the proxy ignored must not reach an upstream that might honour it. The MCP headers
// the proxy checks never go in another spelling (`Mcp_Method`): an upstream that reads `_` as `-`
// would take the unchecked one.
import type { ProxyContext } from '../context.js';
import { jsonRpcError } from '../exchange.js';
import { upstreamRequestHeaders } from '../headers.js';
import type { Step } from '../pipeline.js';

const LEGACY_ONLY = new Set(['mcp-session-id', 'last-event-id']);
const CHECKED = new Set([...LEGACY_ONLY, 'mcp-protocol-version', 'mcp-method', 'mcp-name']);
const canonical = (name: string) => name.toLowerCase().replaceAll('_', '-');

export function forward(ctx: ProxyContext): Step {
  const { config, log, metrics } = ctx;
  return async (x, next) => {
    const token = x.token;
    if (!token) throw new Error('forward runs after an identity step');
    const method = x.method as 'GET' | 'POST' | 'DELETE';
    const abort = new AbortController();
    x.abort = abort;
    x.res.on('close', () => {
      if (!x.res.writableFinished) abort.abort();
    });
    const headers = upstreamRequestHeaders(x.req, {
      identity: config.identityHeaders,
      credential: config.upstreamCredential,
      token,
      requestId: x.requestId,
    });
    for (const name of Object.keys(headers)) {
      const c = canonical(name);
      if ((c !== name && CHECKED.has(c)) || (x.revision === 'modern' && LEGACY_ONLY.has(c))) delete headers[name];
    }
    // A GET or subscriptions/listen is a long-lived event stream: idle is normal there.
    const stream = method === 'GET' || x.calls?.some((c) => c.method === 'subscriptions/listen') === true;
    const started = performance.now();
    try {
      x.upstream = await x.route.pool.request({
        path: x.route.upstreamPath + x.search,
        method,
        headers,
        body: x.body,
        signal: abort.signal,
        headersTimeout: config.upstreamHeadersTimeoutMs,
        bodyTimeout: stream ? 0 : config.upstreamBodyTimeoutMs,
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      x.outcome = 'upstream_error';
      x.latencyMs = Math.round(performance.now() - started);
      if (!abort.signal.aborted) {
        log.warn({ request_id: x.requestId, err: code ?? (err as Error).message }, 'upstream request failed');
        const timeout = code === 'UND_ERR_HEADERS_TIMEOUT';
        jsonRpcError(x.res, timeout ? 504 : 502, -32603, timeout ? 'upstream timed out' : 'upstream unavailable');
      }
      return;
    }
    const latency = performance.now() - started;
    x.upstreamStatus = x.upstream.statusCode;
    x.latencyMs = Math.round(latency * 1000) / 1000;
    metrics.upstreamLatency.observe({ route: x.route.path, status: String(x.upstream.statusCode) }, latency / 1000);
    await next();
  };
}
