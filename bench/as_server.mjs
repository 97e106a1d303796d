// The authorization server under test, in its own process: the same startServer as `mcp-oauth
// serve`, configured only through MCP_OAUTH_* variables (set by bench/lib/env.mjs).
import { childFailed, childReady, distImport } from './lib/proc.mjs';

try {
  const { loadConfig } = await distImport('src/config/index.js');
  const { createLogger } = await distImport('src/log/logger.js');
  const { startServer } = await distImport('src/app/server.js');
  const config = loadConfig(process.env);
  const server = await startServer(config, { logger: createLogger(config.logLevel) });
  childReady({ url: server.url }, () => server.close());
} catch (err) {
  childFailed(err);
}
