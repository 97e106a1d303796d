// Refresh-token reuse grace window (docs/pitfalls.md#refresh-token-reuse-and-racing-agents).
// Several processes of one agent often refresh with the same refresh token milliseconds apart; oidc-provider treats the second use of a rotated
// token as theft and revokes the whole grant. Within the grace window the client that owns the token
// may present it again: the token endpoint is shown the record without its `consumed` mark, so
// oidc-provider rotates it once more (a new refresh token and access token for that process) with
// all its own checks (client, expiry, grant, scope). After the window, reuse keeps oidc-provider's
// answer: the grant is revoked, which src/app/provider_events.ts records and publishes on the feed.
//
// The hook sits on the adapter's `find` (`consumed` is what reuse detection reads:
// docs/pitfalls.md#consumed-records-must-stay-findable) and applies only inside a refresh_token
// grant at the token endpoint, so revocation and everything else still see the token as consumed.
import Provider, { type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import { type Audit, requestSource } from '../audit/index.js';
import { epochSeconds } from '../lib/duration.js';
import type { FindHook } from '../storage/oidc_adapter.js';

export interface RefreshGraceOptions {
  /** Seconds after rotation during which reuse is accepted; 0 turns the window off. */
  graceSeconds: number;
  /** Milliseconds since the epoch; the same clock the adapter stamps `consumed` with. */
  now: () => number;
  audit?: Audit;
}

/**
 * True when a token consumed at `consumedAt` (whole epoch seconds) is still inside the window at
 * `now`. Times are whole seconds, so the window lasts at least `grace` and less than `grace + 1` s.
 */
export function withinGrace(consumedAt: number, now: number, grace: number): boolean {
  return grace > 0 && now >= consumedAt && now - consumedAt <= grace;
}

function isRefreshGrant(ctx: KoaContextWithOIDC | undefined): ctx is KoaContextWithOIDC {
  return ctx?.oidc?.route === 'token' && ctx.oidc.params?.grant_type === 'refresh_token';
}

export function refreshGraceHook(opts: RefreshGraceOptions): FindHook | undefined {
  if (opts.graceSeconds <= 0) return undefined;
  return (model, payload) => {
    if (model !== 'RefreshToken' || typeof payload.consumed !== 'number') return payload;
    const ctx = Provider.ctx;
    if (!isRefreshGrant(ctx)) return payload;
    // Only the client the token was issued to; another client gets oidc-provider's "client mismatch".
    if (!ctx.oidc.client || ctx.oidc.client.clientId !== payload.clientId) return payload;
    const at = epochSeconds(opts.now());
    if (!withinGrace(payload.consumed, at, opts.graceSeconds)) return payload;
    const { consumed, ...unconsumed } = payload as AdapterPayload & { consumed: number };
    opts.audit?.record({
      event: 'refresh_token.reused_in_grace',
      result: 'success',
      userId: payload.accountId ?? null,
      clientId: payload.clientId ?? null,
      grantId: payload.grantId ?? null,
      ...requestSource(ctx),
      details: { seconds_since_rotation: at - consumed, grace_seconds: opts.graceSeconds },
    });
    return unconsumed;
  };
}
