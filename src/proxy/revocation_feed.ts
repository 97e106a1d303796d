// Follows the authorization server's revocation feed so a resource server refuses the tokens of a
// revoked grant, user or agent within a second while still verifying JWTs locally. Usable by any
// Node resource server: it needs only fetch and a resource credential, and imports no server code.
// The feed is a server-sent-events stream (WHATWG HTML §9.2) resumed with Last-Event-ID; while it
// is down, GET /revocations?after= is polled so nothing written meanwhile is missed.
import { createParser } from 'eventsource-parser';

export interface RevocationClaims {
  grant_id?: string | undefined;
  sub?: string | undefined;
  client_id?: string | undefined;
  iat?: number | undefined;
  /** The token's expiry: one that expired before the first sync is treated as revoked (see isRevoked). */
  exp?: number | undefined;
}

export interface RevocationSubscriberOptions {
  /** The authorization server's issuer; the feed is at `<issuer>/revocations`. */
  issuer: string;
  /** A resource credential (`mcp-oauth resources credential`), sent with HTTP Basic. */
  credentials: { id: string; secret: string };
  fetch?: typeof fetch;
  /**
   * Seconds the resource server adds to a token's `exp` before refusing it. An entry is kept until
   * its `expires_at` plus this much: the feed sets `expires_at` from the tokens' lifetime, and a
   * token that is still accepted must still be checked against it.
   */
  clockToleranceSeconds?: number;
  /** Called after entries were applied (to end what the revoked tokens still hold open). */
  onRevocation?: () => void;
  /** Every failed connection, poll or malformed entry; the subscriber keeps trying. */
  onError?: (err: Error) => void;
  /** Epoch milliseconds. */
  now?: () => number;
  /** How often the pull endpoint is polled while the stream is down. */
  pollIntervalMs?: number;
  /** First reconnect delay, doubled on each failure up to `maxReconnectMs`. */
  reconnectMs?: number;
  maxReconnectMs?: number;
  /** A stream silent this long is presumed dead (the server sends a heartbeat every 15 s). */
  idleTimeoutMs?: number;
}

export interface RevocationSubscriber {
  /** Resolves after the first complete sync; rejects if the credential is refused (401). */
  start(): Promise<void>;
  stop(): void;
  isRevoked(claims: RevocationClaims): boolean;
  /** Epoch ms of the last message, heartbeat or poll that reached us. */
  lastSyncAt(): number | undefined;
  cursor(): number;
  /** False when nothing has reached us for longer than `maxStalenessSeconds`: fail closed then. */
  healthy(maxStalenessSeconds: number): boolean;
}

export class RevocationFeedError extends Error {
  override name = 'RevocationFeedError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

interface Cutoff {
  before: number;
  expiresAt: number;
}

type Entry = { seq: number; before: number; expires_at: number } & (
  | { type: 'grant'; grant_id: string }
  | { type: 'user'; sub: string }
  | { type: 'client'; client_id: string }
);

const PAGE = 500;
// The feed keeps an entry this long past the expiry of the tokens it covers (access-token lifetime
// + 60 s, README "Revocation feed"): a silence shorter than this cannot lose an entry.
const FEED_LEEWAY_SECONDS = 60;
const PRUNE_EVERY_MS = 10_000;

const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

function parseEntry(v: unknown): Entry | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const e = v as Record<string, unknown>;
  if (!isInt(e.seq) || !isInt(e.before) || !isInt(e.expires_at)) return undefined;
  if (e.type === 'grant' && isId(e.grant_id)) return e as Entry;
  if (e.type === 'user' && isId(e.sub)) return e as Entry;
  if (e.type === 'client' && isId(e.client_id)) return e as Entry;
  return undefined;
}

const toError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));

export function createRevocationSubscriber(opts: RevocationSubscriberOptions): RevocationSubscriber {
  const base = opts.issuer.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? globalThis.fetch;
  const now = opts.now ?? Date.now;
  const onError = opts.onError ?? (() => {});
  const tolerance = opts.clockToleranceSeconds ?? 0;
  const pollIntervalMs = opts.pollIntervalMs ?? 1000;
  const reconnectMs = opts.reconnectMs ?? 250;
  const maxReconnectMs = opts.maxReconnectMs ?? 5000;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 45_000;
  const { id, secret } = opts.credentials;
  // RFC 6749 §2.3.1: both parts form-urlencoded before Basic encoding.
  const authorization = `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

  const grants = new Map<string, number>();
  const users = new Map<string, Cutoff>();
  const clients = new Map<string, Cutoff>();
  let cursor = 0;
  let lastSync: number | undefined;
  // Epoch seconds of the first sync, or of the first one after a silence longer than the feed's
  // leeway: the feed replays only entries still live at the server, so what it says about tokens
  // that had expired by then is incomplete.
  let coveredFrom: number | undefined;
  let lastPrune = 0;
  let started: Promise<void> | undefined;
  let stopped = false;
  // Aborts whatever is in flight when stop() is called.
  const life = new AbortController();
  let stream: AbortController | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let pollRun = 0;
  let wake: (() => void) | undefined;
  let sleepTimer: NodeJS.Timeout | undefined;

  const report = (err: unknown) => {
    if (!stopped) onError(toError(err));
  };

  // An entry is live while a token it covers could still pass the exp check.
  const prune = () => {
    const t = now() / 1000 - tolerance;
    for (const [k, exp] of grants) if (exp <= t) grants.delete(k);
    for (const map of [users, clients]) for (const [k, c] of map) if (c.expiresAt <= t) map.delete(k);
  };

  const synced = () => {
    const t = now();
    if (lastSync === undefined || t - lastSync > FEED_LEEWAY_SECONDS * 1000) coveredFrom = t / 1000;
    lastSync = t;
    if (lastSync - lastPrune >= PRUNE_EVERY_MS) {
      lastPrune = lastSync;
      prune();
    }
  };

  const cutoff = (map: Map<string, Cutoff>, key: string, e: Entry) => {
    const old = map.get(key);
    map.set(key, {
      before: Math.max(old?.before ?? 0, e.before),
      expiresAt: Math.max(old?.expiresAt ?? 0, e.expires_at),
    });
  };

  const apply = (raw: unknown) => {
    const e = parseEntry(raw);
    if (!e) {
      report(new RevocationFeedError('malformed revocation feed entry'));
      return;
    }
    if (e.type === 'grant') grants.set(e.grant_id, Math.max(grants.get(e.grant_id) ?? 0, e.expires_at));
    else if (e.type === 'user') cutoff(users, e.sub, e);
    else cutoff(clients, e.client_id, e);
    cursor = Math.max(cursor, e.seq);
  };

  const revoked = () => {
    try {
      opts.onRevocation?.();
    } catch (err) {
      report(err);
    }
  };

  const headers = (accept: string) => ({ authorization, accept });

  /** Pages through GET /revocations until caught up. */
  const pull = async () => {
    for (;;) {
      const from = cursor;
      const res = await doFetch(`${base}/revocations?after=${cursor}&limit=${PAGE}`, {
        headers: headers('application/json'),
        signal: AbortSignal.any([life.signal, AbortSignal.timeout(10_000)]),
      });
      if (!res.ok) {
        await res.body?.cancel();
        throw new RevocationFeedError(`revocation feed answered ${res.status}`, res.status);
      }
      const body = (await res.json()) as { entries?: unknown; cursor?: unknown; latest?: unknown };
      if (!Array.isArray(body.entries) || !isInt(body.cursor) || !isInt(body.latest)) {
        throw new RevocationFeedError('malformed revocation feed page');
      }
      // A cursor past the feed's newest entry: the server replayed from the start (database replaced).
      const reset = body.latest < from;
      for (const e of body.entries) apply(e);
      cursor = reset ? body.cursor : Math.max(cursor, body.cursor);
      synced();
      if (body.entries.length > 0) revoked();
      if (body.entries.length < PAGE || cursor >= body.latest || (!reset && cursor <= from)) return;
    }
  };

  const startPolling = () => {
    if (pollTimer || stopped) return;
    const run = ++pollRun;
    const tick = async () => {
      try {
        await pull();
      } catch (err) {
        report(err);
      }
      if (run === pollRun && !stopped) pollTimer = setTimeout(tick, pollIntervalMs).unref();
    };
    pollTimer = setTimeout(tick, 0).unref();
  };

  const stopPolling = () => {
    pollRun++;
    clearTimeout(pollTimer);
    pollTimer = undefined;
  };

  /** One stream connection, from connect to its end; resolves when it closes, throws on failure. */
  const follow = async () => {
    const ctrl = new AbortController();
    stream = ctrl;
    if (stopped) ctrl.abort();
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ctrl.abort(new RevocationFeedError('revocation stream silent')), idleTimeoutMs).unref();
    };
    try {
      arm();
      const res = await doFetch(`${base}/revocations/stream`, {
        headers: { ...headers('text/event-stream'), 'last-event-id': String(cursor) },
        signal: ctrl.signal,
      });
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel();
        throw new RevocationFeedError(`revocation stream answered ${res.status}`, res.status);
      }
      stopPolling();
      const parser = createParser({
        onEvent: (ev) => {
          if (ev.event !== 'revocation') return;
          try {
            apply(JSON.parse(ev.data));
          } catch {
            report(new RevocationFeedError('malformed revocation feed entry'));
          }
          synced();
          revoked();
        },
        // `retry` is written together with the replay; comments are heartbeats.
        onRetry: synced,
        onComment: synced,
      });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        arm();
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } finally {
      clearTimeout(idle);
      if (stream === ctrl) stream = undefined;
    }
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      sleepTimer = setTimeout(resolve, ms).unref();
    });

  const loop = async () => {
    let delay = reconnectMs;
    while (!stopped) {
      const since = performance.now();
      try {
        await follow();
      } catch (err) {
        report(err);
      }
      if (stopped) return;
      startPolling();
      // A stream that stayed up a while was healthy: reconnect quickly. Otherwise back off.
      if (performance.now() - since > maxReconnectMs) delay = reconnectMs;
      await sleep(delay * (0.8 + Math.random() * 0.4));
      delay = Math.min(delay * 2, maxReconnectMs);
    }
  };

  return {
    start() {
      if (stopped) return Promise.reject(new RevocationFeedError('subscriber stopped; create a new one'));
      started ??= (async () => {
        // The first sync is a pull: it pages until caught up, so start() means "up to date".
        for (let delay = reconnectMs; ; delay = Math.min(delay * 2, maxReconnectMs)) {
          try {
            await pull();
            break;
          } catch (err) {
            if (err instanceof RevocationFeedError && err.status === 401) throw err;
            if (stopped) throw new RevocationFeedError('subscriber stopped before the first sync');
            report(err);
            await sleep(delay);
          }
        }
        if (stopped) throw new RevocationFeedError('subscriber stopped before the first sync');
        void loop();
      })();
      return started;
    },
    stop() {
      stopped = true;
      life.abort(new RevocationFeedError('subscriber stopped'));
      stopPolling();
      stream?.abort(new RevocationFeedError('subscriber stopped'));
      clearTimeout(sleepTimer);
      wake?.();
    },
    isRevoked(claims) {
      // A token accepted only thanks to the clock tolerance, that expired before this subscriber's
      // first sync: an entry revoking it may have lapsed at the server before then and not been
      // replayed (entries outlive the tokens they cover by a leeway, not by the tolerance). Refused.
      if (claims.exp !== undefined && coveredFrom !== undefined && claims.exp < coveredFrom) return true;
      const t = now() / 1000 - tolerance;
      const grantExpiry = claims.grant_id === undefined ? undefined : grants.get(claims.grant_id);
      if (grantExpiry !== undefined && grantExpiry > t) return true;
      const covered = (c: Cutoff | undefined) =>
        // A token without iat cannot show it was issued after the cutoff.
        c !== undefined && c.expiresAt > t && (claims.iat === undefined || claims.iat <= c.before);
      if (claims.sub !== undefined && covered(users.get(claims.sub))) return true;
      return claims.client_id !== undefined && covered(clients.get(claims.client_id));
    },
    lastSyncAt: () => lastSync,
    cursor: () => cursor,
    healthy: (maxStalenessSeconds) => lastSync !== undefined && now() - lastSync <= maxStalenessSeconds * 1000,
  };
}
