// The resource proxy: an OAuth resource server in front of MCP servers that check no tokens. This
// file only wires it together: the authorization server's keys and feed, the routes, the endpoints
// (MCP route, nginx auth_request, RFC 9728 metadata, health, metrics) and the listeners. What happens
// to a request is in the endpoints and the steps they compose (see endpoints/mcp.ts).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from '../config/proxy.js';
import { createLogger, type Logger } from '../log/logger.js';
import { connectAuthorizationServer } from './authorization_server.js';
import type { ProxyContext } from './context.js';
import { createDpopVerifier } from './dpop.js';
import { authRequestEndpoint } from './endpoints/auth_request.js';
import { liveness, readiness } from './endpoints/health.js';
import { checkedMcpPipeline, type McpComposition, mcpEndpoint } from './endpoints/mcp.js';
import { isMetadataPath, metadataEndpoint } from './endpoints/metadata.js';
import { metricsEndpoint, protectedMetricsEndpoint } from './endpoints/metrics.js';
import { jsonRpcError, newExchange, sendJson } from './exchange.js';
import { createProxyMetrics, type ProxyMetrics } from './metrics.js';
import { buildRoutes } from './routes.js';
import { createSessionBindings } from './sessions.js';
import { isRevoked } from './steps/authenticate.js';
import { createOpenStreams } from './streams.js';

export interface ProxyOptions {
  logger?: Logger;
  /** Register Node process metrics (only the real process does). */
  collectDefaultMetrics?: boolean;
  /** How long startProxy waits for the first key set and feed sync before answering anyway. */
  startupWaitMs?: number;
  /**
   * The MCP route's steps. Default: every check. Only the benchmark composes another list (its
   * checks-off baseline); the configuration never reaches this.
   */
  mcpPipeline?: McpComposition;
}

export interface RunningProxy {
  url: string;
  /** The separate metrics listener, when configured. */
  metricsUrl: string | undefined;
  ready(): boolean;
  close(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function startProxy(config: ProxyConfig, opts: ProxyOptions = {}): Promise<RunningProxy> {
  const log = opts.logger ?? createLogger(config.logLevel);
  let metrics: ProxyMetrics | undefined;
  let sweep = () => {};
  const as = connectAuthorizationServer(config, log, {
    onKeyRefresh: (result) => metrics?.keySetRefreshes.inc({ result }),
    onRevocation: () => sweep(),
  });
  metrics = createProxyMetrics({
    defaults: opts.collectDefaultMetrics === true,
    feedLagSeconds: () => {
      const last = as.subscriber.lastSyncAt();
      return last === undefined ? undefined : Math.max(0, (Date.now() - last) / 1000);
    },
  });
  const routes = buildRoutes(config);
  const ctx: ProxyContext = {
    config,
    log,
    metrics,
    as,
    proofs: createDpopVerifier({ clockToleranceSeconds: config.clockToleranceSeconds }),
    routes,
    sessions: createSessionBindings(),
    streams: createOpenStreams({
      isRevoked: (token) => isRevoked(ctx, token),
      clockToleranceSeconds: config.clockToleranceSeconds,
    }),
  };
  sweep = () => ctx.streams.sweep();

  const mcp = mcpEndpoint(ctx, opts.mcpPipeline ?? checkedMcpPipeline);
  const authRequest = authRequestEndpoint(ctx);
  const metadata = metadataEndpoint(routes);
  const ready = readiness(as);
  const serveMetrics = metricsEndpoint(metrics);
  const guardedMetrics = config.metricsToken ? protectedMetricsEndpoint(metrics, config.metricsToken) : undefined;

  async function handle(req: IncomingMessage, res: ServerResponse) {
    // A client that goes away mid-request is not an error worth more than the aborted response.
    req.on('error', () => {});
    const raw = req.headers['x-request-id'];
    const requestId = typeof raw === 'string' && REQUEST_ID.test(raw) ? raw : randomUUID();
    res.setHeader('x-request-id', requestId);
    // Paths are matched as received, never normalised: the route is exactly the resource's path.
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const search = q < 0 ? '' : target.slice(q);
    const route = routes.get(path);
    res.once('finish', () =>
      metrics?.requests.inc({
        route: route?.path ?? 'other',
        method: req.method ?? '',
        status: String(res.statusCode),
      }),
    );
    if (route) return mcp(newExchange(req, res, { requestId, route, method: req.method ?? '', search }));
    if (path === '/healthz') return liveness(res);
    if (path === '/readyz') return ready(res);
    if (isMetadataPath(path)) return metadata(path, req, res);
    if (config.authRequestPath && path === config.authRequestPath) return authRequest(req, res, requestId);
    if (path === '/metrics' && guardedMetrics) return guardedMetrics(req, res);
    sendJson(res, 404, { error: 'not_found' });
  }

  const server: Server = createServer({ requestTimeout: 120_000, headersTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'proxy request failed');
      if (!res.headersSent) jsonRpcError(res, 500, -32603, 'internal error');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  let metricsServer: Server | undefined;

  const close = async () => {
    as.stop();
    const closing = [server, metricsServer]
      .filter((s): s is Server => s !== undefined)
      .map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      );
    await Promise.all(closing);
    await Promise.all([...routes.values()].map((r) => r.pool.destroy().catch(() => {})));
  };

  const addr = await new Promise<AddressInfo>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  log.info({ url, routes: config.routes.map((r) => r.resource), issuer: config.issuer }, 'resource proxy listening');
  let metricsUrl: string | undefined;
  if (config.metricsPort !== undefined) {
    const side = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/metrics') serveMetrics(res).catch(() => res.destroy());
      else sendJson(res, 404, { error: 'not_found' });
    });
    metricsServer = side;
    // The metrics listener is always loopback: scrape it locally or through your own tunnel.
    const m = await new Promise<AddressInfo>((resolve, reject) => {
      side.once('error', reject);
      side.listen(config.metricsPort, '127.0.0.1', () => resolve(side.address() as AddressInfo));
    });
    metricsUrl = `http://127.0.0.1:${m.port}/metrics`;
  }

  try {
    await as.start(opts.startupWaitMs ?? 10_000);
  } catch (err) {
    await close();
    throw err;
  }
  return { url, metricsUrl, ready: () => as.ready(), close };
}
