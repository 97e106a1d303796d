import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import type { TestServer } from '../support/app.js';
import {
  cliConnection,
  type FeedFixture,
  newId,
  openStream,
  revokeNewGrant,
  startFeedOnly,
  startFeedServer,
} from '../support/feed.js';
import { waitFor } from '../support/wait.js';

describe('revocation feed: server-sent events stream', () => {
  let fx: FeedFixture;
  let server: TestServer;
  beforeAll(async () => {
    fx = await startFeedServer();
    server = fx.server;
  });
  afterAll(() => server.close());

  const hubStats = () => server.app.feedHub.stats();

  it('sends event-stream headers and replays the entries after Last-Event-ID, then stays open', async () => {
    const { revocations } = server.app.stores;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await revokeNewGrant(server.sql, revocations));
    const latest = await revocations.latestSeq();
    const stream = await openStream(server.url, fx.basic, { lastEventId: String(latest - 2) });
    try {
      expect(stream.res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(stream.res.headers.get('cache-control')).toBe('no-store');
      expect(stream.res.headers.get('x-accel-buffering')).toBe('no');
      expect(stream.res.headers.get('content-length')).toBeNull();
      await waitFor(() => stream.sse.revocations().length === 2, 'the two replayed entries');
      expect(stream.sse.events[0]).toEqual({ retry: '1000' });
      expect(stream.sse.events.slice(1)).toEqual([
        { id: String(latest - 1), event: 'revocation', data: expect.any(String) },
        { id: String(latest), event: 'revocation', data: expect.any(String) },
      ]);
      expect(stream.sse.revocations()).toEqual([
        expect.objectContaining({ seq: latest - 1, type: 'grant', grant_id: ids[1] }),
        expect.objectContaining({ seq: latest, type: 'grant', grant_id: ids[2] }),
      ]);
      expect(stream.sse.raw).not.toMatch(/feed-test-admin|feed-test-reason|revoked_by/);
      expect(stream.sse.ended).toBe(false);
    } finally {
      stream.close();
    }
  });

  it('replays after ?after= too, and Last-Event-ID wins over ?after= (EventSource reconnects to the same URL)', async () => {
    const { revocations } = server.app.stores;
    await revokeNewGrant(server.sql, revocations);
    const latest = await revocations.latestSeq();
    const byQuery = await openStream(server.url, fx.basic, { after: String(latest - 1) });
    const byHeader = await openStream(server.url, fx.basic, { after: '0', lastEventId: String(latest - 1) });
    try {
      await waitFor(
        () => byQuery.sse.revocations().length === 1 && byHeader.sse.revocations().length === 1,
        'one replayed entry on each stream',
      );
      expect(byQuery.sse.revocations()[0]?.seq).toBe(latest);
      expect(byHeader.sse.revocations()[0]?.seq).toBe(latest);
    } finally {
      byQuery.close();
      byHeader.close();
    }
  });

  it('pushes a revoke made in this process to every open stream', async () => {
    const { revocations } = server.app.stores;
    const latest = String(await revocations.latestSeq());
    const a = await openStream(server.url, fx.basic, { lastEventId: latest });
    const b = await openStream(server.url, fx.basic, { lastEventId: latest });
    try {
      await waitFor(() => a.sse.events.length >= 1 && b.sse.events.length >= 1, 'the retry: preamble on both streams');
      const grantId = await revokeNewGrant(server.sql, revocations);
      await waitFor(
        () => a.sse.revocations().length === 1 && b.sse.revocations().length === 1,
        'the revoke on both streams',
      );
      // On the streams already open (the server polls every 100 ms for this), not on a reconnect.
      expect([a.sse.ended, b.sse.ended]).toEqual([false, false]);
      expect(a.sse.revocations()[0]).toMatchObject({ type: 'grant', grant_id: grantId });
      expect(b.sse.revocations()[0]).toMatchObject({ type: 'grant', grant_id: grantId });
      expect(a.sse.events.at(-1)?.id).toBe(String(await revocations.latestSeq()));
    } finally {
      a.close();
      b.close();
    }
  });

  it('pushes revokes written by another process (the CLI on the same SQLite file), in order', async () => {
    const cli = await cliConnection(server);
    const stream = await openStream(server.url, fx.basic, { lastEventId: String(await cli.revocations.latestSeq()) });
    try {
      await waitFor(() => stream.sse.events.length >= 1, 'the retry: preamble');
      const grantId = await revokeNewGrant(cli.sql, cli.revocations);
      const userId = newId('user');
      await cli.revocations.disableUser(userId, 'cli', epochSeconds());
      await waitFor(() => stream.sse.revocations().length === 2, "both of the CLI's entries on the stream");
      expect(stream.sse.ended).toBe(false);
      expect(stream.sse.revocations()).toEqual([
        expect.objectContaining({ type: 'grant', grant_id: grantId }),
        expect.objectContaining({ type: 'user', sub: userId }),
      ]);
    } finally {
      stream.close();
      await cli.close();
    }
  });

  it('closing the last stream stops the shared poller and heartbeat', async () => {
    await waitFor(() => hubStats()?.streams === 0, 'no stream to be open');
    expect(hubStats()).toEqual({ streams: 0, polling: false, heartbeat: false });
    const a = await openStream(server.url, fx.basic);
    const b = await openStream(server.url, fx.basic);
    expect(hubStats()).toEqual({ streams: 2, polling: true, heartbeat: true });
    a.close();
    await waitFor(() => hubStats()?.streams === 1, 'one stream to be open');
    expect(hubStats()?.polling).toBe(true);
    b.close();
    await waitFor(() => hubStats()?.streams === 0, 'no stream to be open');
    expect(hubStats()).toEqual({ streams: 0, polling: false, heartbeat: false });
    // A revoke with no stream open is still replayed to the next one.
    const grantId = await revokeNewGrant(server.sql, server.app.stores.revocations);
    const c = await openStream(server.url, fx.basic, {
      lastEventId: String((await server.app.stores.revocations.latestSeq()) - 1),
    });
    try {
      await waitFor(() => c.sse.revocations().length === 1, 'the replayed entry');
      expect(c.sse.revocations()[0]).toMatchObject({ grant_id: grantId });
    } finally {
      c.close();
    }
    await waitFor(() => hubStats()?.streams === 0, 'no stream to be open');
  });

  describe('with a short heartbeat and a small stream limit', () => {
    let feed: Awaited<ReturnType<typeof startFeedOnly>>;
    beforeAll(async () => {
      feed = await startFeedOnly(server, { heartbeatMs: 50, pollMs: 20, maxStreams: 2 });
    });
    afterAll(() => feed.close());

    it('sends a `: ping` comment on every heartbeat', async () => {
      const stream = await openStream(feed.url, fx.basic);
      try {
        await waitFor(() => stream.sse.events.filter((e) => e.comment === 'ping').length >= 3, 'three heartbeats');
        expect(stream.sse.raw).toContain(': ping\n\n');
      } finally {
        stream.close();
      }
      await waitFor(() => feed.hub.stats().streams === 0, 'no stream to be open');
      expect(feed.hub.stats()).toEqual({ streams: 0, polling: false, heartbeat: false });
    });

    it('answers 503 beyond the stream limit, and accepts again once one closes', async () => {
      const a = await openStream(feed.url, fx.basic);
      const b = await openStream(feed.url, fx.basic);
      try {
        const refused = await fetch(`${feed.url}/revocations/stream`, { headers: { authorization: fx.basic } });
        expect(refused.status).toBe(503);
        expect(refused.headers.get('retry-after')).toBe('5');
        expect(((await refused.json()) as { error: string }).error).toBe('temporarily_unavailable');
        a.close();
        await waitFor(() => feed.hub.stats().streams === 1, 'one stream to be open');
        const c = await openStream(feed.url, fx.basic);
        c.close();
      } finally {
        a.close();
        b.close();
      }
      await waitFor(() => feed.hub.stats().streams === 0, 'no stream to be open');
    });
  });
});
