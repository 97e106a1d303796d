// The revocation subscriber keeps an entry for as long as the proxy could still accept a token it
// covers: until the entry's `expires_at` plus the proxy's clock tolerance (a token is accepted up to
// `exp` + tolerance). Checked at the largest tolerance the configuration allows, with an injected
// clock, for entries kept since start, entries seen after a prune, and entries replayed to a
// restarted proxy.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { createRevocationSubscriber, type RevocationSubscriber } from '../../src/proxy/revocation_feed.js';
import { eventually, type FeedFixture, newId, revokeNewGrant, startFeedServer } from '../support/feed.js';

const MAX_TOLERANCE = 300; // MCP_PROXY_CLOCK_TOLERANCE's upper bound (src/config/proxy.ts)

describe('revocation entries and the clock tolerance', () => {
  let fx: FeedFixture;
  const running: RevocationSubscriber[] = [];
  beforeAll(async () => {
    fx = await startFeedServer();
  });
  afterEach(() => {
    for (const s of running.splice(0)) s.stop();
  });
  afterAll(() => fx.server.close());

  const subscriber = (now: () => number) => {
    const s = createRevocationSubscriber({
      issuer: fx.server.url,
      credentials: fx.creds,
      now,
      clockToleranceSeconds: MAX_TOLERANCE,
    });
    running.push(s);
    return s;
  };

  it('keeps grant and user entries until expires_at + tolerance, across a prune and a restart', async () => {
    const { revocations } = fx.server.app.stores;
    const userId = newId('user');
    const grantId = await revokeNewGrant(fx.server.sql, revocations);
    await revocations.revokeUserGrants(userId, null, 'cli', epochSeconds());
    const entries = await revocations.feedAfter(0, epochSeconds(), 1000);
    const expiresAt = Math.max(
      ...entries.filter((e) => e.subject === grantId || e.subject === userId).map((e) => e.expiresAt),
    );
    const tokenOf = { sub: userId, iat: epochSeconds() - 1 };

    let clock = Date.now();
    const sub = subscriber(() => clock);
    await sub.start();
    expect(sub.isRevoked({ grant_id: grantId })).toBe(true);

    // Past expires_at, within the tolerance: a token of the grant could still pass the exp check.
    clock = (expiresAt + MAX_TOLERANCE - 1) * 1000;
    expect(sub.isRevoked({ grant_id: grantId })).toBe(true);
    expect(sub.isRevoked(tokenOf)).toBe(true);
    // A message arrives (and with it a prune, the clock having moved): the entries stay.
    const later = await revokeNewGrant(fx.server.sql, revocations);
    await eventually(() => sub.isRevoked({ grant_id: later }));
    expect(sub.isRevoked({ grant_id: grantId })).toBe(true);
    expect(sub.isRevoked(tokenOf)).toBe(true);

    // A restarted proxy that gets the entries replayed keeps them just as long.
    const restarted = subscriber(() => clock);
    await restarted.start();
    expect(restarted.isRevoked({ grant_id: grantId })).toBe(true);
    expect(restarted.isRevoked(tokenOf)).toBe(true);

    // Once no token it covers can pass the exp check any more, it is forgotten.
    clock = (expiresAt + MAX_TOLERANCE + 1) * 1000;
    for (const s of [sub, restarted]) {
      expect(s.isRevoked({ grant_id: grantId })).toBe(false);
      expect(s.isRevoked(tokenOf)).toBe(false);
    }
  });

  it('after a restart, counts a token that had expired before the first sync as revoked', async () => {
    // The feed replays only entries still live at the server, so a restarted proxy cannot know
    // about a revocation that lapsed before it synced, while the tolerance still lets its tokens in.
    const clock = Date.now();
    const sub = subscriber(() => clock);
    await sub.start();
    const start = clock / 1000;
    const cases: [exp: number, revoked: boolean][] = [
      [start - MAX_TOLERANCE + 1, true],
      [Math.floor(start) - 1, true],
      [Math.ceil(start) + 1, false],
      [start + 3600, false],
    ];
    for (const [exp, revoked] of cases) {
      expect(
        sub.isRevoked({ grant_id: newId('grant'), sub: 'x', client_id: 'y', iat: exp - 60, exp }),
        `exp ${exp - start}`,
      ).toBe(revoked);
    }
  });

  it('after a silence longer than the feed leeway, counts tokens that expired before the resync as revoked', async () => {
    let clock = Date.now();
    const sub = subscriber(() => clock);
    await sub.start();
    const start = clock / 1000;
    const probe = (exp: number) => sub.isRevoked({ grant_id: newId('grant'), sub: 'x', iat: exp - 60, exp });
    // 30 s without a message: within the leeway, nothing can have lapsed unseen.
    clock += 30_000;
    const first = await revokeNewGrant(fx.server.sql, fx.server.app.stores.revocations);
    await eventually(() => sub.isRevoked({ grant_id: first }));
    expect(probe(start + 10)).toBe(false);
    // Then 120 s of silence: entries may have lapsed at the server meanwhile.
    clock += 120_000;
    const second = await revokeNewGrant(fx.server.sql, fx.server.app.stores.revocations);
    await eventually(() => sub.isRevoked({ grant_id: second }));
    expect(probe(start + 10)).toBe(true);
    expect(probe(clock / 1000 + 1)).toBe(false);
  });
});
