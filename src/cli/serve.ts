import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { SERVE_HELP } from './help_text.js';
import type { CliIo } from './io.js';
import { withoutRuntimeWarning } from './runtime_warning.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export function registerServeCommand(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('run the authorization server until SIGINT or SIGTERM')
    .addHelpText('after', SERVE_HELP)
    .action(() => serve(io));
}

/** Resolves on the first SIGINT or SIGTERM; a second one then gets the default handling (exit). */
function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      for (const s of SIGNALS) process.removeListener(s, onSignal);
      resolve(signal);
    };
    for (const s of SIGNALS) process.on(s, onSignal);
  });
}

async function serve(io: CliIo): Promise<void> {
  const config = loadConfig(io.env);
  // Loaded here, not at the top, so the other commands never load the HTTP stack.
  const { createLogger } = await import('../log/logger.js');
  const logger = createLogger(config.logLevel, io.stdout);
  const { startServer } = await withoutRuntimeWarning(() => import('../app/server.js'));
  const created = !existsSync(config.databaseFile);
  const server = await startServer(config, { logger });
  // Said with the full path: a server started from another directory gets another ./data.
  if (created) logger.info({ database: config.databaseFile }, 'created a new database');
  // startServer opens and migrates the database and logs where it listens.
  // Then, if no admin or no MCP server exists yet, the next steps (nothing when it is set up).
  const { announceFirstStart } = await import('../ops/first_start.js');
  await announceFirstStart(io.stdout, logger, config.issuer, server.sql);
  const signal = await nextSignal();
  logger.info({ signal }, 'shutting down');
  await server.close();
}
