import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pruneAudit } from '../audit/query.js';
import type { Config } from '../config/index.js';
import { epochSeconds } from '../lib/duration.js';
import { openDatabase } from '../storage/db.js';
import { migrate } from '../storage/migrate.js';
import { purgeExpired } from '../storage/purge.js';
import { buildApp } from './app.js';
import { createLogger, type Logger } from './logger.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

const KEY_CHECK_INTERVAL_MS = 30_000;

export async function startServer(config: Config, opts: { logger?: Logger } = {}): Promise<RunningServer> {
  const log = opts.logger ?? createLogger(config.logLevel);
  const db = openDatabase(config.databaseFile);
  const { applied } = migrate(db);
  if (applied.length) log.info({ applied }, 'migrations applied');
  const app = await buildApp(config, db, log);

  const server = createServer(app.handler);
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const purge = () => {
    try {
      const now = epochSeconds();
      const removed = {
        ...purgeExpired(db, now),
        auditEvents: pruneAudit(db, now, config.auditRetention),
        feedEntries: app.stores.revocations.purgeExpired(now),
      };
      if (Object.values(removed).some((n) => n > 0)) log.info({ event: 'purge', ...removed }, 'expired rows purged');
    } catch (err) {
      log.error({ err }, 'purge failed');
    }
  };
  purge();
  const timers = [
    setInterval(purge, config.purgeInterval * 1000),
    setInterval(() => {
      try {
        app.reloadKeysIfChanged();
      } catch (err) {
        log.error({ err }, 'key reload failed');
      }
    }, KEY_CHECK_INTERVAL_MS),
  ];
  for (const t of timers) t.unref();

  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  log.info({ url, issuer: config.issuer }, 'authorization server listening');
  return {
    url,
    async close() {
      for (const t of timers) clearInterval(t);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      db.close();
    },
  };
}
