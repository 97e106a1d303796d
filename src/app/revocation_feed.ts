// The revocation feed resource servers follow, so a revoked grant is refused everywhere within a
// second while access tokens stay locally verified JWTs. Pull: GET /revocations?after=SEQ&limit=N.
// Push: GET /revocations/stream, server-sent events (WHATWG HTML §9.2) with resume by Last-Event-ID.
// Rows are also written by other processes (the CLI opens the same SQLite file), so new entries
// are found by reading MAX(seq), one index lookup, from one timer per server that runs only while
// a stream is open, and fanned out to every open stream.
import type { ServerResponse } from 'node:http';
import type { Context, Middleware } from 'koa';
import { epochSeconds } from '../lib/duration.js';
import type { Logger } from '../log/logger.js';
import type { FeedEntry, RevocationService } from '../storage/revocations.js';
import { HttpError, sendError } from '../web/errors.js';
import type { RouteDeps } from '../web/route_deps.js';
import { authenticateResourceServer } from './resource_auth.js';

export const FEED_PATH = '/revocations';
export const FEED_STREAM_PATH = '/revocations/stream';

const REALM = 'revocations';
const DEFAULT_LIMIT = 500;
const MAX_LIMIT = 1000;
/** What an EventSource waits before reconnecting (WHATWG HTML §9.2.4 `retry`). */
const RETRY_MS = 1000;

/** One entry as resource servers see it: only what they need to refuse tokens. */
export type WireEntry =
  | { seq: number; type: 'grant'; grant_id: string; before: number; expires_at: number }
  | { seq: number; type: 'user'; sub: string; before: number; expires_at: number }
  | { seq: number; type: 'client'; client_id: string; before: number; expires_at: number };

export function toWire(e: FeedEntry): WireEntry {
  const common = { seq: e.seq, before: e.before, expires_at: e.expiresAt };
  switch (e.kind) {
    case 'grant':
      return { ...common, type: 'grant', grant_id: e.subject };
    case 'user':
      return { ...common, type: 'user', sub: e.subject };
    case 'client':
      return { ...common, type: 'client', client_id: e.subject };
  }
}

const sseEvent = (e: FeedEntry) => `id: ${e.seq}\nevent: revocation\ndata: ${JSON.stringify(toWire(e))}\n\n`;

/**
 * Where to read from for a caller whose cursor is `after`. A cursor past the newest row means the
 * database was replaced or every row has expired and been purged (rows expire in seq order, so a
 * purge removes a prefix): replaying every live entry is then the only safe answer.
 */
function startFor(after: number, latest: number): number {
  return after > latest ? 0 : after;
}

export interface FeedHubOptions {
  /** How often MAX(seq) is read while a stream is open. */
  pollMs?: number;
  /** How often a `: ping` comment goes to every stream, so proxies and subscribers see it alive. */
  heartbeatMs?: number;
  /** Open streams beyond this get 503. */
  maxStreams?: number;
  /**
   * Open streams one resource credential may hold; beyond it 429. Without it one credential (a
   * leaked one, or a proxy reconnecting in a loop) could take every slot and lock the others out.
   */
  maxStreamsPerCredential?: number;
  /** A stream whose unsent output passes this is closed; its subscriber resumes from its cursor. */
  maxBufferedBytes?: number;
}

interface Stream {
  res: ServerResponse;
  cursor: number;
  credential: string;
}

/** Whether one more stream may open: yes, no room at all (503), or no room for this credential (429). */
export type Admission = 'ok' | 'full' | 'credential_full';

export type FeedHub = ReturnType<typeof createFeedHub>;

/** The open streams of one server and the single poller and heartbeat that serve them. */
export function createFeedHub(revocations: RevocationService, log: Logger, opts: FeedHubOptions = {}) {
  const pollMs = opts.pollMs ?? 100;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const maxStreams = opts.maxStreams ?? 100;
  const maxPerCredential = opts.maxStreamsPerCredential ?? 4;
  const maxBuffered = opts.maxBufferedBytes ?? 1024 * 1024;
  const streams = new Set<Stream>();
  const perCredential = new Map<string, number>();
  let lastSeen = 0;
  let poller: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  // Polls and new subscriptions run one at a time: reading the feed is asynchronous, and a poll
  // slipping between a new stream's replay and its subscription would skip entries for it.
  let turn: Promise<void> = Promise.resolve();
  const oneAtATime = <T>(work: () => Promise<T>): Promise<T> => {
    const result = turn.then(work);
    turn = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  };
  let polling = false;
  let again = false;
  // A tick that finds a poll running asks for one more after it (that poll may have read MAX(seq)
  // before the entry that woke this tick was committed); ticks meanwhile fold into that one.
  const tick = async () => {
    if (polling) {
      again = true;
      return;
    }
    polling = true;
    try {
      do {
        again = false;
        await oneAtATime(poll);
      } while (again);
    } finally {
      polling = false;
    }
  };
  const pollNow = () => {
    tick().catch((err: unknown) => log.error({ err, event: 'revocation_feed.poll_failed' }, 'poll failed'));
  };
  // Every new entry, written by any node on the database (or by this process), wakes the hub at
  // its commit; the timer's poll stays for what no notification reaches (on SQLite, a CLI in
  // another process) and after a dropped notification connection. Started with the first stream
  // and kept: on PostgreSQL it is one connection per node whatever listens.
  let listening = false;
  let closed = false;
  let unlisten: (() => Promise<void>) | undefined;
  const listen = () => {
    if (listening || closed) return;
    listening = true;
    revocations
      .onNewEntries(() => {
        if (poller && !closed) pollNow();
      })
      .then((stop) => {
        unlisten = stop;
      })
      .catch((err: unknown) => {
        listening = false;
        log.error({ err, event: 'revocation_feed.listen_failed' }, 'revocation notifications unavailable; polling');
      });
  };

  const write = (s: Stream, text: string) => {
    if (s.res.writableLength > maxBuffered) {
      log.warn({ event: 'revocation_feed.slow_subscriber' }, 'revocation stream closed: subscriber not reading');
      s.res.destroy();
      return;
    }
    s.res.write(text);
  };

  const poll = async () => {
    try {
      const latest = await revocations.latestSeq();
      if (latest < lastSeen) {
        lastSeen = 0;
        for (const s of streams) s.cursor = 0;
      }
      while (latest > lastSeen) {
        const page = await revocations.feedAfter(lastSeen, epochSeconds(), DEFAULT_LIMIT);
        const last = page.at(-1);
        if (!last) {
          lastSeen = latest; // everything after lastSeen has already expired
          break;
        }
        lastSeen = last.seq;
        for (const s of streams) {
          const fresh = page.filter((e) => e.seq > s.cursor);
          if (fresh.length === 0) continue;
          s.cursor = last.seq;
          write(s, fresh.map(sseEvent).join(''));
        }
      }
    } catch (err) {
      log.error({ err, event: 'revocation_feed.poll_failed' }, 'revocation feed poll failed');
    }
  };

  const ping = () => {
    for (const s of streams) write(s, ': ping\n\n');
  };

  const stopTimers = () => {
    clearInterval(poller);
    clearInterval(heartbeat);
    poller = undefined;
    heartbeat = undefined;
  };

  return {
    admit(credential: string): Admission {
      if ((perCredential.get(credential) ?? 0) >= maxPerCredential) return 'credential_full';
      return streams.size >= maxStreams ? 'full' : 'ok';
    },
    /** Replays what the caller missed after `after`, then keeps `res` subscribed until it closes. */
    add(res: ServerResponse, after: number, credential: string): Promise<void> {
      return oneAtATime(() => subscribe(res, after, credential));
    },
    /**
     * Stops polling and listening, before the database closes (shutdown): a notification that
     * arrives afterwards must not start a poll on a closed engine.
     */
    async close(): Promise<void> {
      closed = true;
      stopTimers();
      await unlisten?.();
      await turn;
    },
    /** For tests and health: open streams and whether the timers run. */
    stats: () => ({ streams: streams.size, polling: poller !== undefined, heartbeat: heartbeat !== undefined }),
  };

  async function subscribe(res: ServerResponse, after: number, credential: string): Promise<void> {
    const latest = await revocations.latestSeq();
    if (!poller && !closed) {
      lastSeen = latest;
      poller = setInterval(pollNow, pollMs).unref();
      listen();
      heartbeat = setInterval(ping, heartbeatMs).unref();
    }
    const s: Stream = { res, cursor: startFor(after, latest), credential };
    let out = `retry: ${RETRY_MS}\n\n`;
    for (;;) {
      const page = await revocations.feedAfter(s.cursor, epochSeconds(), DEFAULT_LIMIT);
      out += page.map(sseEvent).join('');
      s.cursor = page.at(-1)?.seq ?? s.cursor;
      if (page.length < DEFAULT_LIMIT) break;
    }
    // The subscriber hung up while its replay was read: nothing to keep.
    if (res.destroyed) {
      if (streams.size === 0) stopTimers();
      return;
    }
    streams.add(s);
    perCredential.set(credential, (perCredential.get(credential) ?? 0) + 1);
    res.on('close', () => {
      if (!streams.delete(s)) return;
      const left = (perCredential.get(credential) ?? 1) - 1;
      if (left > 0) perCredential.set(credential, left);
      else perCredential.delete(credential);
      if (streams.size === 0) stopTimers();
    });
    res.write(out);
  }
}

function seqParam(name: string, raw: string | string[] | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) {
    throw new HttpError(400, 'invalid_request', `${name} must be a non-negative integer`);
  }
  return Number(raw);
}

function limitParam(raw: string | string[] | undefined): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  if (typeof raw !== 'string' || !/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_LIMIT) {
    throw new HttpError(400, 'invalid_request', `limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  return Number(raw);
}

async function pull(ctx: Context, revocations: RevocationService): Promise<void> {
  const after = seqParam('after', ctx.query.after, 0);
  const limit = limitParam(ctx.query.limit);
  const latest = await revocations.latestSeq();
  const start = startFor(after, latest);
  const entries = await revocations.feedAfter(start, epochSeconds(), limit);
  ctx.body = { entries: entries.map(toWire), cursor: entries.at(-1)?.seq ?? start, latest };
}

async function stream(ctx: Context, hub: FeedHub, log: Logger, caller: string): Promise<void> {
  // EventSource sends Last-Event-ID on reconnect to the URL it first used, so the header wins.
  const header = ctx.get('last-event-id');
  const after = header ? seqParam('Last-Event-ID', header, 0) : seqParam('after', ctx.query.after, 0);
  const admission = hub.admit(caller);
  if (admission !== 'ok') {
    // Answered here, not thrown: the error handler turns every 5xx into a plain server_error.
    const mine = admission === 'credential_full';
    sendError(ctx, {
      status: mine ? 429 : 503,
      error: mine ? 'too_many_requests' : 'temporarily_unavailable',
      description: mine
        ? 'this credential already holds its share of open revocation streams'
        : 'too many open revocation streams',
      headers: { 'Retry-After': '5' },
    });
    return;
  }
  ctx.respond = false;
  const { req, res } = ctx;
  req.socket.setTimeout(0);
  req.socket.setNoDelay(true);
  req.socket.setKeepAlive(true);
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Accel-Buffering': 'no',
    Connection: 'keep-alive',
  });
  // A subscriber going away (a proxy restarting) resets the connection. That is how a stream
  // normally ends, not an application error for Koa to print (it reports socket errors of the
  // response to ctx.onerror); 'close' does the cleanup.
  res.on('error', () => {});
  ctx.onerror = (err) => {
    if (err) log.debug({ event: 'revocation_feed.stream_reset', code: (err as NodeJS.ErrnoException).code }, 'reset');
  };
  await hub.add(res, after, caller);
  log.debug({ event: 'revocation_feed.stream_opened', credential: caller, after }, 'revocation stream opened');
  res.on('close', () =>
    log.debug({ event: 'revocation_feed.stream_closed', credential: caller }, 'revocation stream closed'),
  );
}

/** The revocation feed for resource servers (pull with ?after= and a server-sent-events stream). */
export function revocationFeed(deps: Pick<RouteDeps, 'stores' | 'log'>, feedHub: FeedHub): Middleware {
  const { revocations, credentials } = deps.stores;

  return async (ctx, next) => {
    if (ctx.path !== FEED_PATH && ctx.path !== FEED_STREAM_PATH) return next();
    ctx.set('Cache-Control', 'no-store');
    if (ctx.method !== 'GET') {
      ctx.set('Allow', 'GET');
      throw new HttpError(405, 'invalid_request', 'use GET');
    }
    const caller = await authenticateResourceServer(ctx, credentials, REALM);
    if (ctx.path === FEED_PATH) await pull(ctx, revocations);
    else await stream(ctx, feedHub, deps.log, caller.id);
  };
}
