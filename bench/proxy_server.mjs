// The resource proxy under test, in its own process, configured through MCP_PROXY_* like
// `mcp-oauth proxy`. BENCH_SKIP_CHECKS=1 starts the checks-off baseline (the programmatic-only
// unsafeSkipTokenChecks option, for this benchmark alone).
import pino from 'pino';
import { childFailed, childReady, distImport } from './lib/proc.mjs';

try {
  const { loadProxyConfig, startProxy } = await distImport('src/proxy/index.js');
  const config = loadProxyConfig(process.env);
  const proxy = await startProxy(config, {
    logger: pino({ level: config.logLevel }),
    unsafeSkipTokenChecks: process.env.BENCH_SKIP_CHECKS === '1',
  });
  childReady({ url: proxy.url }, () => proxy.close());
} catch (err) {
  childFailed(err);
}
