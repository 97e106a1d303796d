// The resource proxy's programmatic API: the `mcp-oauth proxy` entry point, the benchmark and the
// tests start it through here. Nothing reachable from this file imports the authorization server's
// storage, provider, HTTP or CLI code (test/architecture/layers.test.ts checks it).
export {
  type IdentityHeaderNames,
  loadProxyConfig,
  type ProxyConfig,
  ProxyConfigError,
  proxyConfig,
  type RouteConfig,
} from '../config/proxy.js';
export type { McpComposition, McpSteps } from './endpoints/mcp.js';
export type { Exchange } from './exchange.js';
export type { Step } from './pipeline.js';
export { type ProxyOptions, type RunningProxy, startProxy } from './server.js';
