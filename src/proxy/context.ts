// What the steps and endpoints share for the proxy's lifetime: configuration, logger, metrics, the
// authorization server's keys and feed, the session bindings and the open event streams.
import type { Logger } from 'pino';
import type { ProxyConfig } from '../config/proxy.js';
import type { AuthorizationServer } from './authorization_server.js';
import type { DpopVerifier } from './dpop.js';
import type { Route } from './exchange.js';
import type { ProxyMetrics } from './metrics.js';
import type { SessionBindings } from './sessions.js';
import type { OpenStreams } from './streams.js';

export interface ProxyContext {
  config: ProxyConfig;
  log: Logger;
  metrics: ProxyMetrics;
  as: AuthorizationServer;
  /** DPoP proofs: checked against the request, each accepted once. */
  proofs: DpopVerifier;
  sessions: SessionBindings;
  streams: OpenStreams;
  /** Routes by exact path. */
  routes: ReadonlyMap<string, Route>;
}
