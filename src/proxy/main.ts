// Entry point of `mcp-oauth proxy` (and the `mcp-oauth-proxy` bin): reads MCP_PROXY_* and runs
// the resource proxy until SIGTERM/SIGINT. Loads none of the authorization server's code.
import pino from 'pino';
import { loadProxyConfig, ProxyConfigError } from '../config/proxy.js';
import { startProxy } from './server.js';

const REDACT = ['req.headers.authorization', 'req.headers.dpop', 'req.headers.cookie', '*.token', '*.secret'];

export async function runProxy(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config: ReturnType<typeof loadProxyConfig>;
  try {
    config = loadProxyConfig(env);
  } catch (err) {
    if (err instanceof ProxyConfigError) {
      process.stderr.write(`mcp-oauth proxy: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  // JSON lines for log pipelines; readable output when a person is watching the terminal.
  const log = pino({
    level: config.logLevel,
    base: { service: 'mcp-oauth-proxy' },
    redact: { paths: REDACT, censor: '[redacted]' },
    ...((config.logFormat === 'auto' && process.stdout.isTTY) || config.logFormat === 'pretty'
      ? { transport: { target: 'pino-pretty', options: { colorize: true } } }
      : {}),
  });
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  try {
    proxy = await startProxy(config, { logger: log, collectDefaultMetrics: true });
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'proxy failed to start');
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await proxy.close();
  return 0;
}
