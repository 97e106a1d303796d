// The registry of open event streams, directly: a sweep ends exactly the streams whose token the
// revocation check refuses; a stream whose token has expired (exp + tolerance) is ended at once; a
// forgotten stream is never ended by the proxy.
import { describe, expect, it } from 'vitest';
import { NO_TOOL_RESTRICTIONS } from '../../src/lib/tool_labels.js';
import type { CloseReason } from '../../src/proxy/exchange.js';
import { createOpenStreams } from '../../src/proxy/streams.js';
import type { VerifiedToken } from '../../src/proxy/verifier.js';
import { eventually } from '../support/feed.js';

const T0 = 1_800_000_000;
const tok = (grantId: string, exp = T0 + 3600): VerifiedToken => ({
  sub: 'alice',
  clientId: 'agent',
  scope: '',
  scopes: new Set(),
  grantId,
  iat: T0,
  exp,
  tools: NO_TOOL_RESTRICTIONS,
});

describe('open event streams', () => {
  it('sweep() ends the streams of revoked tokens only, once', () => {
    const revoked = new Set<string>();
    const streams = createOpenStreams({
      isRevoked: (t) => revoked.has(t.grantId ?? ''),
      clockToleranceSeconds: 5,
      now: () => T0 * 1000,
    });
    const ended: [string, CloseReason][] = [];
    for (const g of ['g1', 'g1', 'g2', 'g3']) streams.add(tok(g), (r) => ended.push([g, r]));
    const forget = streams.add(tok('g3'), (r) => ended.push(['g3-forgotten', r]));
    forget();
    expect(streams.size()).toBe(4);
    streams.sweep();
    expect(ended).toEqual([]);
    revoked.add('g1').add('g3');
    streams.sweep();
    streams.sweep();
    expect(ended).toEqual([
      ['g1', 'revoked'],
      ['g1', 'revoked'],
      ['g3', 'revoked'],
    ]);
    expect(streams.size()).toBe(1);
  });

  it('ends a stream when its token expires, counting the tolerance', async () => {
    let now = T0 * 1000;
    const streams = createOpenStreams({ isRevoked: () => false, clockToleranceSeconds: 5, now: () => now });
    const ended: string[] = [];
    streams.add(tok('past', T0 - 6), (r) => ended.push(`past:${r}`));
    streams.add(tok('within-tolerance', T0 - 4), (r) => ended.push(`within:${r}`));
    expect(ended).toEqual(['past:token_expired']);
    // The timer fires at the expiry as the injected clock sees it once it is there.
    now = (T0 + 2) * 1000;
    await eventually(() => ended.length === 2, 3000);
    expect(ended).toEqual(['past:token_expired', 'within:token_expired']);
    expect(streams.size()).toBe(0);
  });
});
