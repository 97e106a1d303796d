// The resource proxy under test, in its own process, configured through MCP_PROXY_* like
// `mcp-oauth proxy`. BENCH_SKIP_CHECKS=1 starts the checks-off baseline: the same proxy with an MCP
// pipeline composed here without the authentication and scope steps (a fixed identity stands in
// for the verified token), so the difference between the two is exactly the cost of the checks.
import pino from 'pino';
import { childFailed, childReady, distImport } from './lib/proc.mjs';

/** Stands in for `authenticate`: every request acts as one identity holding every scope of the route. */
const assumeIdentity = async (x, next) => {
  x.token = {
    sub: 'bench',
    clientId: 'bench',
    scope: x.route.scopes.join(' '),
    scopes: new Set(x.route.scopes),
    grantId: undefined,
    iat: 0,
    exp: Number.MAX_SAFE_INTEGER,
  };
  await next();
};

const uncheckedPipeline = (s) => [s.allowMethods, assumeIdentity, s.bindSession, s.readBody, s.forward, s.relay];

try {
  const { loadProxyConfig, startProxy } = await distImport('src/proxy/index.js');
  const config = loadProxyConfig(process.env);
  const proxy = await startProxy(config, {
    logger: pino({ level: config.logLevel }),
    ...(process.env.BENCH_SKIP_CHECKS === '1' ? { mcpPipeline: uncheckedPipeline } : {}),
  });
  childReady({ url: proxy.url }, () => proxy.close());
} catch (err) {
  childFailed(err);
}
