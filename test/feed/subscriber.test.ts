import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import {
  createRevocationSubscriber,
  RevocationFeedError,
  type RevocationSubscriber,
  type RevocationSubscriberOptions,
} from '../../src/proxy/revocation_feed.js';
import type { TestServer } from '../support/app.js';
import {
  cliConnection,
  closeServer,
  countingFetch,
  type FeedFixture,
  newId,
  revokeNewGrant,
  startFeedOnly,
  startFeedServer,
} from '../support/feed.js';
import { waitFor } from '../support/wait.js';

describe('revocation feed subscriber', () => {
  let fx: FeedFixture;
  let server: TestServer;
  const running: RevocationSubscriber[] = [];
  beforeAll(async () => {
    fx = await startFeedServer();
    server = fx.server;
  });
  afterEach(() => {
    for (const s of running.splice(0)) s.stop();
  });
  afterAll(() => server.close());

  const subscriber = (opts: Partial<RevocationSubscriberOptions> = {}) => {
    const s = createRevocationSubscriber({ issuer: server.url, credentials: fx.creds, ...opts });
    running.push(s);
    return s;
  };
  const hubStats = () => server.app.feedHub.stats();
  const streamUp = (what = "the subscriber's stream to open") => waitFor(() => hubStats()?.streams === 1, what);
  const streamDown = () => waitFor(() => hubStats()?.streams === 0, 'no revocation stream to be open');
  // Quick reconnects and polls, so the tests that take the feed away do not wait on the defaults.
  const brisk = { reconnectMs: 10, maxReconnectMs: 100, pollIntervalMs: 20 };

  it('start() resolves once synced with every live entry; later revokes are pushed over its open stream', async () => {
    const { revocations } = server.app.stores;
    const before = await revokeNewGrant(server.sql, revocations);
    const calls = countingFetch();
    const sub = subscriber({ fetch: calls.fetch });
    expect(sub.lastSyncAt()).toBeUndefined();
    expect(sub.healthy(60)).toBe(false);
    await sub.start();
    expect(sub.isRevoked({ grant_id: before })).toBe(true);
    expect(sub.cursor()).toBe(await revocations.latestSeq());
    expect(sub.lastSyncAt()).toBeGreaterThan(0);
    expect(sub.healthy(60)).toBe(true);
    expect(sub.isRevoked({ grant_id: 'never-revoked', sub: 'nobody', client_id: 'no-agent', iat: 1 })).toBe(false);

    await streamUp();
    const paths = { pulls: calls.pulls(), streams: calls.streams() };
    const after = await revokeNewGrant(server.sql, revocations);
    await waitFor(() => sub.isRevoked({ grant_id: after }), 'the revoke to reach the subscriber');
    // Pushed: no pull and no new connection carried it (the server's 100 ms poll and the push
    // are what keep this under a second; the last test in this file measures it).
    expect({ pulls: calls.pulls(), streams: calls.streams() }).toEqual(paths);
    expect(sub.cursor()).toBe(await revocations.latestSeq());
  });

  it('sees revokes written by another process, pushed over its open stream', async () => {
    const calls = countingFetch();
    const sub = subscriber({ fetch: calls.fetch });
    await sub.start();
    await streamUp();
    const paths = { pulls: calls.pulls(), streams: calls.streams() };
    const cli = await cliConnection(server);
    try {
      const grantId = await revokeNewGrant(cli.sql, cli.revocations);
      await waitFor(() => sub.isRevoked({ grant_id: grantId }), "the CLI's revoke to reach the subscriber");
      expect({ pulls: calls.pulls(), streams: calls.streams() }).toEqual(paths);
    } finally {
      await cli.close();
    }
  });

  it('user and client entries revoke the tokens issued at or before `before`, not later ones', async () => {
    const sub = subscriber();
    await sub.start();
    const { revocations } = server.app.stores;
    const t = epochSeconds();
    const userId = newId('user');
    const agentId = newId('agent');
    await revocations.revokeUserGrants(userId, null, 'cli', t);
    await revocations.revokeClientGrants(agentId, 'cli', t);
    await waitFor(
      async () => sub.cursor() === (await revocations.latestSeq()),
      'the subscriber to catch up with the feed',
    );
    const cases: [string, Parameters<RevocationSubscriber['isRevoked']>[0], boolean][] = [
      ['user, issued before', { sub: userId, client_id: 'other', iat: t - 100 }, true],
      ['user, issued at the cutoff', { sub: userId, client_id: 'other', iat: t }, true],
      ['user, issued after', { sub: userId, client_id: 'other', iat: t + 1 }, false],
      ['user, no iat', { sub: userId, client_id: 'other' }, true],
      ['agent, issued before', { sub: 'someone', client_id: agentId, iat: t - 1 }, true],
      ['agent, issued at the cutoff', { sub: 'someone', client_id: agentId, iat: t }, true],
      ['agent, issued after', { sub: 'someone', client_id: agentId, iat: t + 1 }, false],
      ['ids swapped between sub and client_id', { sub: agentId, client_id: userId, iat: t - 1 }, false],
      ['another user and agent', { sub: 'someone', client_id: 'other', iat: t - 1 }, false],
    ];
    for (const [name, claims, expected] of cases) {
      expect(sub.isRevoked(claims), name).toBe(expected);
    }
  });

  it('forgets entries once they expire, by its own clock', async () => {
    let clock = Date.now();
    const sub = subscriber({ now: () => clock });
    const { revocations } = server.app.stores;
    const userId = newId('user');
    const grantId = await revokeNewGrant(server.sql, revocations);
    await revocations.revokeUserGrants(userId, null, 'cli', epochSeconds());
    await sub.start();
    const entry = (await revocations.feedAfter(0, epochSeconds(), 1000)).find((e) => e.subject === grantId);
    expect(sub.isRevoked({ grant_id: grantId })).toBe(true);
    expect(sub.isRevoked({ sub: userId, iat: epochSeconds() - 1 })).toBe(true);
    clock = ((entry?.expiresAt ?? 0) + 1) * 1000;
    expect(sub.isRevoked({ grant_id: grantId })).toBe(false);
    expect(sub.isRevoked({ sub: userId, iat: epochSeconds() - 1 })).toBe(false);
  });

  it('healthy() turns false once nothing arrived for longer than the given staleness', async () => {
    let clock = Date.now();
    const sub = subscriber({ now: () => clock });
    await sub.start();
    expect(sub.lastSyncAt()).toBe(clock);
    expect(sub.healthy(30)).toBe(true);
    clock += 30_000;
    expect(sub.healthy(30)).toBe(true);
    clock += 1;
    expect(sub.healthy(30)).toBe(false);
    expect(sub.healthy(60)).toBe(true);
    // Any message brings it back.
    await streamUp();
    await revokeNewGrant(server.sql, server.app.stores.revocations);
    await waitFor(() => sub.lastSyncAt() === clock, 'a revocation message to refresh lastSyncAt');
    expect(sub.healthy(30)).toBe(true);
  });

  it('heartbeats keep lastSyncAt fresh while nothing is revoked', async () => {
    const feed = await startFeedOnly(server, { heartbeatMs: 50 });
    try {
      let clock = 1_000_000;
      const sub = subscriber({ issuer: feed.url, now: () => clock });
      await sub.start();
      await waitFor(() => feed.hub.stats().streams === 1, "the subscriber's stream to open");
      expect(sub.lastSyncAt()).toBe(clock);
      const cursor = sub.cursor();
      // Each step needs a new message; the stream's one-off preamble can account for the first at
      // most, so the second is a heartbeat.
      for (const step of [1, 2]) {
        clock += 1000;
        await waitFor(() => sub.lastSyncAt() === clock, `heartbeat ${step} to refresh lastSyncAt`);
      }
      expect(sub.cursor()).toBe(cursor);
      sub.stop();
      await waitFor(() => feed.hub.stats().streams === 0, 'the server to drop the stopped stream');
    } finally {
      await feed.close();
    }
  });

  it('start() rejects when the credential is refused', async () => {
    const errors: Error[] = [];
    const sub = subscriber({ credentials: { id: fx.creds.id, secret: 'wrong' }, onError: (e) => errors.push(e) });
    await expect(sub.start()).rejects.toMatchObject({ name: 'RevocationFeedError', status: 401 });
    await expect(sub.start()).rejects.toBeInstanceOf(RevocationFeedError);
  });

  it('stop() closes its stream: the server drops it and stops polling', async () => {
    await streamDown();
    const sub = subscriber();
    await sub.start();
    await streamUp();
    sub.stop();
    await streamDown();
    expect(hubStats()).toEqual({ streams: 0, polling: false, heartbeat: false });
    await expect(sub.start()).rejects.toBeInstanceOf(RevocationFeedError);
  });

  it('while the stream is refused it polls the pull endpoint, then resumes the stream from its cursor', async () => {
    // A feed of its own with a 50 ms heartbeat: the heartbeats are what the end of the test counts.
    const feed = await startFeedOnly(server, { heartbeatMs: 50 });
    const streams = () => feed.hub.stats().streams;
    let blocked = false;
    let kill: (() => void) | undefined;
    const streamIds: string[] = [];
    let pulls = 0;
    const fetchThrough: typeof fetch = async (input, init) => {
      const url = String(input);
      if (!url.includes('/revocations/stream')) {
        pulls++;
        return fetch(input, init);
      }
      if (blocked) throw new TypeError('fetch failed');
      streamIds.push(new Headers(init?.headers).get('last-event-id') ?? '');
      const ctrl = new AbortController();
      kill = () => ctrl.abort(new Error('connection reset'));
      const signal = init?.signal ? AbortSignal.any([init.signal, ctrl.signal]) : ctrl.signal;
      return fetch(input, { ...init, signal });
    };
    let clock = 1_000_000;
    const sub = subscriber({ issuer: feed.url, fetch: fetchThrough, now: () => clock, ...brisk });
    try {
      await sub.start();
      await waitFor(() => streams() === 1, 'the first stream to open');
      expect(streamIds).toEqual([String(sub.cursor())]);

      blocked = true;
      kill?.();
      await waitFor(() => streams() === 0, 'the server to see the stream reset');
      const pullsBefore = pulls;
      const cli = await cliConnection(server);
      let whileDown: string;
      try {
        whileDown = await revokeNewGrant(cli.sql, cli.revocations);
      } finally {
        await cli.close();
      }
      await waitFor(() => sub.isRevoked({ grant_id: whileDown }), 'a poll to deliver the revoke made while down');
      // Only the pull endpoint can have delivered it, and it keeps being polled while the stream is down.
      expect(streamIds).toHaveLength(1);
      await waitFor(() => pulls >= pullsBefore + 2, 'two more polls while the stream is refused');

      const cursor = sub.cursor();
      blocked = false;
      await waitFor(() => streams() === 1, 'the stream to come back');
      expect(streamIds.at(-1)).toBe(String(cursor));
      const live = await revokeNewGrant(server.sql, server.app.stores.revocations);
      await waitFor(() => sub.isRevoked({ grant_id: live }), 'the stream to deliver a live revoke');
      // Polling stopped once the stream was back. A poll is due every 20 ms, a heartbeat every
      // 50 ms, and timers in one process fire in the order they fall due: had polling gone on, a
      // pull would come before the third heartbeat from now.
      const pullsAfterReconnect = pulls;
      for (const beat of [1, 2, 3]) {
        clock += 1000;
        await waitFor(() => sub.lastSyncAt() === clock, `heartbeat ${beat} after the reconnect`);
      }
      expect(pulls).toBe(pullsAfterReconnect);
    } finally {
      sub.stop();
      await feed.close();
    }
  });

  describe('when the server goes away and comes back', () => {
    let http: Server;
    let port: number;
    const listen = () =>
      new Promise<void>((resolve) => {
        http = createServer(server.app.handler);
        http.listen(port, '127.0.0.1', resolve);
      });
    beforeAll(async () => {
      port = 0;
      await listen();
      port = (http.address() as AddressInfo).port;
    });
    afterAll(() => closeServer(http));

    it('resumes from its cursor without missing what was revoked meanwhile', async () => {
      const errors: Error[] = [];
      const sub = subscriber({ issuer: `http://127.0.0.1:${port}`, onError: (e) => errors.push(e), ...brisk });
      await sub.start();
      await streamUp();
      const first = await revokeNewGrant(server.sql, server.app.stores.revocations);
      await waitFor(() => sub.isRevoked({ grant_id: first }), 'the first revoke');

      await closeServer(http);
      await streamDown();
      const { revocations } = server.app.stores;
      const whileDown = await revokeNewGrant(server.sql, revocations);
      const userId = newId('user');
      await revocations.revokeUserGrants(userId, null, 'cli', epochSeconds());
      await waitFor(() => errors.length >= 2, 'failed reconnects and polls while the server is away');
      expect(sub.isRevoked({ grant_id: whileDown })).toBe(false);

      await listen();
      await waitFor(() => sub.isRevoked({ grant_id: whileDown }), 'the revoke made while away, once back');
      expect(sub.isRevoked({ sub: userId, iat: epochSeconds() - 1 })).toBe(true);
      await streamUp('the stream to reopen');
      const live = await revokeNewGrant(server.sql, revocations);
      await waitFor(() => sub.isRevoked({ grant_id: live }), 'a live revoke on the reopened stream');
      expect(sub.cursor()).toBe(await revocations.latestSeq());
    });
  });

  it('50 revokes from two writers each reach the subscriber over its one stream, in order', async () => {
    // Latency is a measurement, not an assertion here (a shared machine makes any bound flaky):
    // FEED_LATENCY_REPORT=1 prints it. What is asserted is the path: every entry pushed, in order.
    const calls = countingFetch();
    const sub = subscriber({ fetch: calls.fetch });
    await sub.start();
    await streamUp();
    const paths = { pulls: calls.pulls(), streams: calls.streams() };
    const cli = await cliConnection(server);
    const latencies: number[] = [];
    const seqs: number[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        // Alternate between this process and the CLI's connection.
        const writer = i % 2 === 0 ? { sql: server.sql, revocations: server.app.stores.revocations } : cli;
        const t0 = performance.now();
        const grantId = await revokeNewGrant(writer.sql, writer.revocations);
        await waitFor(() => sub.isRevoked({ grant_id: grantId }), `revoke ${i + 1} of 50 to reach the subscriber`);
        latencies.push(performance.now() - t0);
        seqs.push(sub.cursor());
      }
    } finally {
      await cli.close();
    }
    expect({ pulls: calls.pulls(), streams: calls.streams() }).toEqual(paths);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(50);
    if (process.env.FEED_LATENCY_REPORT) {
      latencies.sort((a, b) => a - b);
      const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
      console.log(
        `revoke → subscriber over ${latencies.length}: median ${pick(0.5).toFixed(1)} ms, p90 ${pick(0.9).toFixed(1)} ms, max ${(latencies.at(-1) ?? 0).toFixed(1)} ms`,
      );
    }
  });
});
