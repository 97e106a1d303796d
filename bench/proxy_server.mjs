// The resource proxy under test, in its own process, configured through MCP_PROXY_* like
// `mcp-oauth proxy`. BENCH_SKIP_CHECKS=1 starts the checks-off baseline: the same proxy with the MCP
// pipeline of lib/unchecked_pipeline.mjs (no authentication or scope steps).
import pino from 'pino';
import { childFailed, childReady, distImport } from './lib/proc.mjs';
import { uncheckedPipeline } from './lib/unchecked_pipeline.mjs';

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
