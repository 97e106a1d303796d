import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pruneAudit } from '../audit/query.js';
import type { Config } from '../config/index.js';
import { epochSeconds } from '../lib/duration.js';
import { createLogger, type Logger } from '../log/logger.js';
import { unlessRunningElsewhere } from '../storage/cluster_lock.js';
import type { Sql } from '../storage/engine.js';
import { KEYS_CHANNEL } from '../storage/keys.js';
import { migrate } from '../storage/migrate.js';
import { describeDatabase, openStorage } from '../storage/open.js';
import { purgeExpired } from '../storage/purge.js';
import { buildApp } from './app.js';

export interface RunningServer {
  url: string;
  /** The database it serves, open until close() (`serve` reads what is set up from it). */
  sql: Sql;
  /**
   * Graceful stop: refuses new connections, ends revocation streams, lets requests in flight finish
   * (up to `drainTimeoutMs`, then cuts them), stops the timers and closes the database.
   */
  close(): Promise<void>;
}

export interface ServerOptions {
  logger?: Logger;
  /** How long close() waits for requests in flight; default MCP_OAUTH_SHUTDOWN_TIMEOUT. */
  drainTimeoutMs?: number;
  /** How often the signing-key set is checked for a rotation made by the CLI. */
  keyCheckIntervalMs?: number;
}

const KEY_CHECK_INTERVAL_MS = 30_000;

/** Server-sent-event streams never finish on their own: they are ended, not waited for, at shutdown. */
const isStream = (res: ServerResponse) => String(res.getHeader('content-type') ?? '').startsWith('text/event-stream');

export async function startServer(config: Config, opts: ServerOptions = {}): Promise<RunningServer> {
  const log = opts.logger ?? createLogger(config.logLevel);
  const sql = await openStorage(config, {
    onError: (err) => log.warn({ event: 'database.connection_error', err: err.message }, 'database connection error'),
  });
  let app: Awaited<ReturnType<typeof buildApp>>;
  try {
    const { applied } = await migrate(sql);
    if (applied.length) log.info({ applied }, 'migrations applied');
    app = await buildApp(config, sql, log);
  } catch (err) {
    await sql.close();
    throw err;
  }

  // Requests whose response has not finished, so shutdown can wait for exactly those.
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  let drained: (() => void) | undefined;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (draining) {
      // A request that arrived on a kept-alive connection after shutdown began.
      res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1', Connection: 'close' });
      res.end(JSON.stringify({ error: 'temporarily_unavailable', error_description: 'the server is restarting' }));
      return;
    }
    inFlight.add(res);
    res.once('close', () => {
      inFlight.delete(res);
      if (draining) {
        server.closeIdleConnections();
        if (inFlight.size === 0) drained?.();
      }
    });
    app.handler(req, res);
  };
  const server = createServer(handle);
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  // The timers' jobs run one at a time, and close() waits for the one running before it closes
  // the database.
  let background: Promise<void> = Promise.resolve();
  const runInBackground = (job: () => Promise<void>, failure: string) => {
    background = background.then(job).catch((err: unknown) => log.error({ err }, failure));
  };
  // Several nodes on one PostgreSQL database: one of them purges each round (docs/storage.md).
  const purge = async () => {
    const now = epochSeconds();
    const removed = await unlessRunningElsewhere(sql, 'purge', async () => ({
      ...(await purgeExpired(sql, now, { unusedClientTtl: config.unusedClientTtl })),
      auditEvents: await pruneAudit(sql, now, config.auditRetention),
      feedEntries: await app.stores.revocations.purgeExpired(now),
      throttles: await app.stores.throttles.purgeExpired(Date.now()),
    }));
    if (!removed) log.debug({ event: 'purge.skipped' }, 'another node is purging');
    else if (Object.values(removed).some((n) => n > 0)) log.info({ event: 'purge', ...removed }, 'expired rows purged');
  };
  runInBackground(purge, 'purge failed');
  const reloadKeys = () =>
    runInBackground(async () => {
      await app.reloadKeysIfChanged();
    }, 'key reload failed');
  // A key added anywhere on the database (another node, the CLI) is announced at its commit; the
  // periodic check stays for what no notification reaches (the CLI in another process on SQLite).
  const stopListening = await sql.listen(KEYS_CHANNEL, reloadKeys);
  const timers = [
    setInterval(() => runInBackground(purge, 'purge failed'), config.purgeInterval * 1000),
    setInterval(reloadKeys, opts.keyCheckIntervalMs ?? KEY_CHECK_INTERVAL_MS),
  ];
  for (const t of timers) t.unref();

  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  log.info({ url, issuer: config.issuer, database: describeDatabase(config) }, 'authorization server listening');
  return {
    url,
    sql,
    async close() {
      for (const t of timers) clearInterval(t);
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      let streams = 0;
      for (const res of inFlight) {
        if (isStream(res)) {
          res.end(); // the subscriber reconnects (to us after a restart, or to a peer)
          streams += 1;
        } else if (!res.headersSent) res.setHeader('Connection', 'close');
      }
      server.closeIdleConnections();
      if (inFlight.size > 0) {
        const requests = inFlight.size - streams;
        log.info({ event: 'shutdown.draining', requests, streams }, 'waiting for requests in flight');
        let timer: NodeJS.Timeout | undefined;
        const finished = await Promise.race([
          new Promise<boolean>((resolve) => {
            drained = () => resolve(true);
          }),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), opts.drainTimeoutMs ?? config.shutdownTimeout * 1000);
          }),
        ]);
        clearTimeout(timer);
        if (!finished) log.warn({ event: 'shutdown.drain_timeout', requests: inFlight.size }, 'requests cut off');
      }
      server.closeAllConnections();
      await closed;
      await stopListening();
      await background;
      await app.feedHub.close();
      await sql.close();
      log.info({ event: 'shutdown.complete' }, 'database closed');
    },
  };
}
