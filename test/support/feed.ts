// Shared setup for the revocation feed tests: a real server with one resource credential, feed
// entries of each kind, a second database connection standing in for the CLI, and an SSE reader.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { createFeedHub, type FeedHubOptions, revocationFeed } from '../../src/app/revocation_feed.js';
import { epochSeconds } from '../../src/lib/duration.js';
import { createLogger } from '../../src/log/logger.js';
import type { Sql } from '../../src/storage/engine.js';
import { createGrantRecordRepository } from '../../src/storage/grant_records.js';
import { createRevocationService, type RevocationService } from '../../src/storage/revocations.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { openTestStorage } from '../support/storage.js';
import { waitFor } from '../support/wait.js';

export const RESOURCE = 'https://mcp.example.com/mcp';

export interface FeedFixture {
  server: TestServer;
  creds: { id: string; secret: string };
  basic: string;
}

export async function startFeedServer(): Promise<FeedFixture> {
  const server = await startTestServer();
  await server.addResource(RESOURCE, 'Orders DB');
  const resourceId = (await server.app.stores.resources.findByUri(RESOURCE))?.id ?? -1;
  const creds = await server.app.stores.credentials.create(resourceId, { replace: true });
  return { server, creds, basic: basicAuth(creds.id, creds.secret) };
}

export const basicAuth = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

export const newId = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;

/** Records a grant and revokes it through `revocations`; returns the grant id. */
export async function revokeNewGrant(sql: Sql, revocations: RevocationService, now = epochSeconds()): Promise<string> {
  const id = newId('grant');
  await createGrantRecordRepository(sql).saved(
    { id, accountId: 'acct', clientId: 'agent', resource: RESOURCE, scopes: ['mcp:read'], obtainedVia: 'consent' },
    now,
  );
  if (!(await revocations.revokeGrant(id, 'admin:feed-test-admin', now, 'feed-test-reason')))
    throw new Error('not revoked');
  return id;
}

/** A second connection to the server's database, as the CLI opens it; `close` ends it. */
export async function cliConnection(
  server: TestServer,
): Promise<{ sql: Sql; revocations: RevocationService; close(): Promise<void> }> {
  const { sql, close } = await openTestStorage(server.dataDir, { migrate: false });
  return { sql, revocations: createRevocationService(sql, { accessTokenTtl: server.config.accessTokenTtl }), close };
}

/** Serves only the feed, over the test server's stores, with a hub built from `opts`. */
export async function startFeedOnly(
  server: TestServer,
  opts: FeedHubOptions,
): Promise<{ url: string; hub: ReturnType<typeof createFeedHub>; close(): Promise<void> }> {
  const log = createLogger('silent');
  const hub = createFeedHub(server.app.stores.revocations, log, opts);
  const app = new Koa();
  app.use(revocationFeed({ stores: server.app.stores, log }, hub));
  const http = createServer(app.callback());
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    hub,
    close: () => closeServer(http),
  };
}

export function closeServer(http: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => http.close(() => resolve()));
  http.closeAllConnections();
  return closed;
}

/**
 * The older spelling of waitFor (test/support/wait.ts), kept for callers outside this folder; new
 * code uses waitFor, whose failure names what it waited for.
 */
export function eventually<T>(check: () => T | Promise<T>, timeoutMs = 2000, stepMs = 5): Promise<NonNullable<T>> {
  return waitFor(check, 'a condition', { timeoutMs, intervalMs: stepMs });
}

/**
 * A fetch for a subscriber that counts what it asks for: pulls of GET /revocations and connections
 * to the stream. Lets a test tell which path delivered an entry without timing it.
 */
export function countingFetch(): { fetch: typeof fetch; pulls(): number; streams(): number } {
  let pulls = 0;
  let streams = 0;
  return {
    fetch: (input, init) => {
      if (String(input).includes('/revocations/stream')) streams++;
      else pulls++;
      return fetch(input, init);
    },
    pulls: () => pulls,
    streams: () => streams,
  };
}

export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  comment?: string;
}

/** Reads a text/event-stream response into blocks, parsed by hand so the test does not share the library's parser. */
export class SseReader {
  readonly events: SseEvent[] = [];
  raw = '';
  ended = false;
  private buffer = '';

  constructor(readonly response: Response) {
    void this.pump();
  }

  private async pump() {
    const reader = (this.response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const text = decoder.decode(value, { stream: true });
        this.raw += text;
        this.buffer += text;
        let end = this.buffer.indexOf('\n\n');
        while (end >= 0) {
          this.events.push(parseBlock(this.buffer.slice(0, end)));
          this.buffer = this.buffer.slice(end + 2);
          end = this.buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted by the test
    } finally {
      this.ended = true;
    }
  }

  revocations(): Record<string, unknown>[] {
    return this.events.filter((e) => e.event === 'revocation').map((e) => JSON.parse(e.data ?? 'null'));
  }
}

function parseBlock(block: string): SseEvent {
  const out: SseEvent = {};
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) out.comment = line.slice(1).trim();
    else {
      const colon = line.indexOf(':');
      const field = line.slice(0, colon) as 'id' | 'event' | 'data' | 'retry';
      out[field] = line.slice(colon + 1).replace(/^ /, '');
    }
  }
  return out;
}

export async function openStream(
  url: string,
  auth: string,
  opts: { lastEventId?: string; after?: string } = {},
): Promise<{ res: Response; sse: SseReader; close(): void }> {
  const ctrl = new AbortController();
  const headers: Record<string, string> = { authorization: auth, accept: 'text/event-stream' };
  if (opts.lastEventId !== undefined) headers['last-event-id'] = opts.lastEventId;
  const query = opts.after === undefined ? '' : `?after=${opts.after}`;
  const res = await fetch(`${url}/revocations/stream${query}`, { headers, signal: ctrl.signal });
  if (res.status !== 200) throw new Error(`stream answered ${res.status}: ${await res.text()}`);
  return { res, sse: new SseReader(res), close: () => ctrl.abort() };
}
