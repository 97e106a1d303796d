// The LISTEN side of the PostgreSQL engine (src/storage/engine_pg.ts): one connection per engine
// for every channel. PostgreSQL does not keep a notice for a connection that was away, so after a
// drop the connection comes back with back-off, LISTENs again, and calls every listener once: each
// consumer then re-reads its cursor from its table, and nothing is lost.
import pg from 'pg';

export interface Listener {
  add(channel: string, onNotice: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * One connection for every LISTEN of the engine. After a drop it reconnects with back-off,
 * LISTENs again and calls every listener once: a notice sent while it was away is not replayed
 * by PostgreSQL, so each consumer looks at its table again.
 */
export function createListener(
  config: pg.ClientConfig,
  reconnectMs: { readonly min: number; readonly max: number } | undefined,
  onError: (err: Error) => void,
): Listener {
  const channels = new Map<string, Set<() => void>>();
  const minDelay = reconnectMs?.min ?? 100;
  const maxDelay = reconnectMs?.max ?? 5_000;
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let delay = minDelay;
  let closed = false;

  const wake = (channel: string) => {
    for (const cb of channels.get(channel) ?? []) {
      try {
        cb();
      } catch (err) {
        onError(err as Error);
      }
    }
  };
  const listenSql = (channel: string) => `LISTEN ${pg.escapeIdentifier(channel)}`;

  async function connect(): Promise<pg.Client> {
    const c = new pg.Client(config);
    c.on('error', (err) => dropped(c, err));
    c.on('end', () => dropped(c, new Error('listening connection ended')));
    c.on('notification', (msg) => wake(msg.channel));
    try {
      await c.connect();
      for (const channel of channels.keys()) await c.query(listenSql(channel));
    } catch (err) {
      c.removeAllListeners('end');
      await c.end().catch(() => {});
      throw err;
    }
    return c;
  }

  function dropped(c: pg.Client, err: Error) {
    if (client !== c) return;
    client = undefined;
    if (closed) return;
    onError(err);
    scheduleRetry();
  }

  function scheduleRetry() {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void reconnect();
    }, delay);
    retryTimer.unref();
    delay = Math.min(delay * 2, maxDelay);
  }

  async function reconnect(): Promise<void> {
    try {
      await ensure();
      if (closed) return;
      delay = minDelay;
      for (const channel of channels.keys()) wake(channel);
    } catch (err) {
      onError(err as Error);
      scheduleRetry();
    }
  }

  async function ensure(): Promise<pg.Client> {
    if (client) return client;
    connecting ??= connect().then(
      (c) => {
        connecting = undefined;
        if (closed) {
          c.removeAllListeners('end');
          void c.end().catch(() => {});
          throw new Error('engine closed');
        }
        client = c;
        return c;
      },
      (err) => {
        connecting = undefined;
        throw err;
      },
    );
    return connecting;
  }

  return {
    async add(channel, onNotice) {
      if (closed) throw new Error('engine closed');
      let set = channels.get(channel);
      const fresh = !set;
      if (!set) {
        set = new Set();
        channels.set(channel, set);
      }
      set.add(onNotice);
      try {
        const c = await ensure();
        // A client that connected before this channel was added has not LISTENed to it yet.
        if (fresh) await c.query(listenSql(channel));
      } catch (err) {
        set.delete(onNotice);
        if (set.size === 0) channels.delete(channel);
        throw err;
      }
      return async () => {
        const current = channels.get(channel);
        if (!current?.delete(onNotice) || current.size > 0) return;
        channels.delete(channel);
        await client?.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`).catch(() => {});
      };
    },
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      const c = client ?? (await connecting?.catch(() => undefined));
      client = undefined;
      if (c) {
        c.removeAllListeners('end');
        await c.end().catch(() => {});
      }
    },
  };
}
