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
  eventually,
  type FeedFixture,
  newId,
  revokeNewGrant,
  startFeedOnly,
  startFeedServer,
} from '../support/feed.js';

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

  it('start() resolves once synced with every live entry; later revokes are seen within a second', async () => {
    const { revocations } = server.app.stores;
    const before = revokeNewGrant(server.db, revocations);
    const sub = subscriber();
    expect(sub.lastSyncAt()).toBeUndefined();
    expect(sub.healthy(60)).toBe(false);
    await sub.start();
    expect(sub.isRevoked({ grant_id: before })).toBe(true);
    expect(sub.cursor()).toBe(revocations.latestSeq());
    expect(sub.lastSyncAt()).toBeGreaterThan(0);
    expect(sub.healthy(60)).toBe(true);
    expect(sub.isRevoked({ grant_id: 'never-revoked', sub: 'nobody', client_id: 'no-agent', iat: 1 })).toBe(false);

    await eventually(() => hubStats()?.streams === 1); // the stream is up
    const t0 = performance.now();
    const after = revokeNewGrant(server.db, revocations);
    await eventually(() => sub.isRevoked({ grant_id: after }), 1000, 1);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(sub.cursor()).toBe(revocations.latestSeq());
  });

  it('sees revokes written by another process within a second', async () => {
    const sub = subscriber();
    await sub.start();
    await eventually(() => hubStats()?.streams === 1);
    const cli = cliConnection(server);
    try {
      const t0 = performance.now();
      const grantId = revokeNewGrant(cli.db, cli.revocations);
      await eventually(() => sub.isRevoked({ grant_id: grantId }), 1000, 1);
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      cli.db.close();
    }
  });

  it('user and client entries revoke the tokens issued at or before `before`, not later ones', async () => {
    const sub = subscriber();
    await sub.start();
    const { revocations } = server.app.stores;
    const t = epochSeconds();
    const userId = newId('user');
    const agentId = newId('agent');
    revocations.revokeUserGrants(userId, null, 'cli', t);
    revocations.revokeClientGrants(agentId, 'cli', t);
    await eventually(() => sub.cursor() === revocations.latestSeq(), 1000, 1);
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
    const grantId = revokeNewGrant(server.db, revocations);
    revocations.revokeUserGrants(userId, null, 'cli', epochSeconds());
    await sub.start();
    const entry = revocations.feedAfter(0, epochSeconds(), 1000).find((e) => e.subject === grantId);
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
    await eventually(() => hubStats()?.streams === 1);
    revokeNewGrant(server.db, server.app.stores.revocations);
    await eventually(() => sub.lastSyncAt() === clock);
    expect(sub.healthy(30)).toBe(true);
  });

  it('heartbeats keep lastSyncAt fresh while nothing is revoked', async () => {
    const feed = await startFeedOnly(server, { heartbeatMs: 50 });
    try {
      const sub = subscriber({ issuer: feed.url });
      await sub.start();
      await eventually(() => feed.hub.stats().streams === 1);
      const first = sub.lastSyncAt() ?? 0;
      const cursor = sub.cursor();
      await eventually(() => (sub.lastSyncAt() ?? 0) > first + 100, 2000);
      expect(sub.cursor()).toBe(cursor);
      sub.stop();
      await eventually(() => feed.hub.stats().streams === 0);
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
    await eventually(() => hubStats()?.streams === 0);
    const sub = subscriber();
    await sub.start();
    await eventually(() => hubStats()?.streams === 1);
    sub.stop();
    await eventually(() => hubStats()?.streams === 0);
    expect(hubStats()).toEqual({ streams: 0, polling: false, heartbeat: false });
    await expect(sub.start()).rejects.toBeInstanceOf(RevocationFeedError);
  });

  it('while the stream is refused it polls the pull endpoint, then resumes the stream from its cursor', async () => {
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
    const sub = subscriber({ fetch: fetchThrough });
    await sub.start();
    await eventually(() => hubStats()?.streams === 1);
    expect(streamIds).toEqual([String(sub.cursor())]);

    blocked = true;
    kill?.();
    await eventually(() => hubStats()?.streams === 0);
    const pullsBefore = pulls;
    const cli = cliConnection(server);
    let whileDown: string;
    try {
      whileDown = revokeNewGrant(cli.db, cli.revocations);
    } finally {
      cli.db.close();
    }
    const t0 = performance.now();
    await eventually(() => sub.isRevoked({ grant_id: whileDown }), 2500, 5);
    expect(performance.now() - t0).toBeLessThan(2000); // one poll interval, plus slack
    // Only the pull endpoint can have delivered it, and it keeps being polled while the stream is down.
    expect(streamIds).toHaveLength(1);
    await eventually(() => pulls >= pullsBefore + 2, 3000);

    const cursor = sub.cursor();
    blocked = false;
    await eventually(() => hubStats()?.streams === 1, 8000);
    expect(streamIds.at(-1)).toBe(String(cursor));
    const pullsAfterReconnect = pulls;
    const live = revokeNewGrant(server.db, server.app.stores.revocations);
    await eventually(() => sub.isRevoked({ grant_id: live }), 1000, 1);
    // Polling stopped once the stream was back.
    await new Promise((r) => setTimeout(r, 1200));
    expect(pulls).toBe(pullsAfterReconnect);
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
      const sub = subscriber({ issuer: `http://127.0.0.1:${port}`, onError: (e) => errors.push(e) });
      await sub.start();
      await eventually(() => hubStats()?.streams === 1);
      const first = revokeNewGrant(server.db, server.app.stores.revocations);
      await eventually(() => sub.isRevoked({ grant_id: first }), 1000, 1);

      await closeServer(http);
      await eventually(() => hubStats()?.streams === 0);
      const { revocations } = server.app.stores;
      const whileDown = revokeNewGrant(server.db, revocations);
      const userId = newId('user');
      revocations.revokeUserGrants(userId, null, 'cli', epochSeconds());
      await eventually(() => errors.length >= 2, 3000); // failed reconnects and polls
      expect(sub.isRevoked({ grant_id: whileDown })).toBe(false);

      await listen();
      await eventually(() => sub.isRevoked({ grant_id: whileDown }), 8000);
      expect(sub.isRevoked({ sub: userId, iat: epochSeconds() - 1 })).toBe(true);
      await eventually(() => hubStats()?.streams === 1, 8000);
      const live = revokeNewGrant(server.db, revocations);
      await eventually(() => sub.isRevoked({ grant_id: live }), 1000, 1);
      expect(sub.cursor()).toBe(revocations.latestSeq());
    });
  });

  it('measures revoke-to-subscriber latency over 50 revokes: every one under a second', async () => {
    const sub = subscriber();
    await sub.start();
    await eventually(() => hubStats()?.streams === 1);
    const cli = cliConnection(server);
    const latencies: number[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        // Alternate between this process and the CLI's connection.
        const writer = i % 2 === 0 ? { db: server.db, revocations: server.app.stores.revocations } : cli;
        // A random pause, so the revokes do not fall in step with the server's 100 ms poll.
        await new Promise((r) => setTimeout(r, Math.random() * 150));
        const t0 = performance.now();
        const grantId = revokeNewGrant(writer.db, writer.revocations);
        await eventually(() => sub.isRevoked({ grant_id: grantId }), 1000, 1);
        latencies.push(performance.now() - t0);
      }
    } finally {
      cli.db.close();
    }
    latencies.sort((a, b) => a - b);
    const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    if (process.env.FEED_LATENCY_REPORT) {
      console.log(
        `revoke → subscriber over ${latencies.length}: median ${pick(0.5).toFixed(1)} ms, p90 ${pick(0.9).toFixed(1)} ms, max ${(latencies.at(-1) ?? 0).toFixed(1)} ms`,
      );
    }
    expect(latencies.at(-1)).toBeLessThan(1000);
  });
});
