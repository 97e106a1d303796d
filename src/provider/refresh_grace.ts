// Refresh-token reuse grace window (docs/pitfalls.md#refresh-token-reuse-and-racing-agents).
// Several processes of one agent often refresh with the same refresh token milliseconds apart; oidc-provider treats the second use of a rotated
// token as theft and revokes the whole grant. Within the grace window the client that owns the token
// may present it again, and every presentation is handed the SAME successor: the grant keeps one
// chain, so a stolen copy replayed inside the window leads nowhere new, and reuse of any link after
// its window is still detected (the grant is revoked, which src/app/provider_events.ts records and
// publishes on the feed).
//
// Three hooks, all limited to a refresh_token grant at the token endpoint:
// - `find` shows a token consumed inside the window without its `consumed` mark, so oidc-provider
//   runs all its own checks (client, expiry, grant, account, scope) and mints a fresh access token
//   (`consumed` is what reuse detection reads: docs/pitfalls.md#consumed-records-must-stay-findable).
//   Only while the successor it led to is still unused: a token whose successor has itself been
//   rotated is past saving.
// - `upsert` claims the rotation in refresh_rotations (src/storage/refresh_family.ts). The first
//   rotation of a token stores its successor; a later or racing one (two server processes on one
//   database included) stores nothing and notes the successor that stands.
// - the middleware puts that successor in the token response in place of the never-stored one.
import type { Middleware } from 'koa';
import Provider, { type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import { type Audit, requestSource } from '../audit/index.js';
import { epochSeconds } from '../lib/duration.js';
import type { FindHook, UpsertHook } from '../storage/oidc_adapter.js';
import type { RefreshFamilyRepository } from '../storage/refresh_family.js';

export interface RefreshGraceOptions {
  /** Seconds after rotation during which reuse is accepted; 0 turns the window off. */
  graceSeconds: number;
  /** Milliseconds since the epoch; the same clock the adapter stamps `consumed` with. */
  now: () => number;
  audit?: Audit | undefined;
  /** Where rotations are claimed; without it each presentation gets a chain of its own. */
  family?: RefreshFamilyRepository | undefined;
  /** False when the refresh token with this id was consumed (rotated again). */
  isLive?: ((id: string) => Promise<boolean>) | undefined;
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

const presented = (ctx: KoaContextWithOIDC): string | undefined => {
  const value = ctx.oidc.params?.refresh_token;
  return typeof value === 'string' ? value : undefined;
};

// Per request (keyed by the Koa context): seconds since rotation seen by `find`, and the successor
// the response must carry.
const sinceRotation = new WeakMap<object, number>();
const handedOver = new WeakMap<object, string>();

export function refreshGraceHook(opts: RefreshGraceOptions): FindHook | undefined {
  if (opts.graceSeconds <= 0) return undefined;
  return async (model, payload) => {
    if (model !== 'RefreshToken' || typeof payload.consumed !== 'number') return payload;
    const ctx = Provider.ctx;
    if (!isRefreshGrant(ctx)) return payload;
    // Only the client the token was issued to; another client gets oidc-provider's "client mismatch".
    if (!ctx.oidc.client || ctx.oidc.client.clientId !== payload.clientId) return payload;
    const at = epochSeconds(opts.now());
    if (!withinGrace(payload.consumed, at, opts.graceSeconds)) return payload;
    const id = presented(ctx);
    const successor = id === undefined ? undefined : await opts.family?.successorOf(id);
    // No successor recorded yet means its rotation is still in flight; the upsert hook settles it.
    if (successor !== undefined && opts.isLive && !(await opts.isLive(successor))) return payload;
    const { consumed, ...unconsumed } = payload as AdapterPayload & { consumed: number };
    sinceRotation.set(ctx, at - consumed);
    if (!opts.family) await auditGrace(opts, ctx, payload, at - consumed);
    return unconsumed;
  };
}

async function auditGrace(
  opts: RefreshGraceOptions,
  ctx: KoaContextWithOIDC,
  payload: AdapterPayload,
  seconds: number,
): Promise<void> {
  await opts.audit?.record({
    event: 'refresh_token.reused_in_grace',
    result: 'success',
    userId: payload.accountId ?? null,
    clientId: payload.clientId ?? null,
    grantId: payload.grantId ?? null,
    ...requestSource(ctx),
    details: { seconds_since_rotation: seconds, grace_seconds: opts.graceSeconds },
  });
}

export function refreshRotationHook(opts: RefreshGraceOptions): UpsertHook | undefined {
  const { family } = opts;
  if (opts.graceSeconds <= 0 || !family) return undefined;
  return async (model, id, payload) => {
    if (model !== 'RefreshToken') return true;
    const ctx = Provider.ctx;
    if (!isRefreshGrant(ctx) || !ctx.oidc.entities.RotatedRefreshToken) return true;
    const predecessor = presented(ctx);
    if (predecessor === undefined || typeof payload.grantId !== 'string') return true;
    const at = epochSeconds(opts.now());
    const { ip } = requestSource(ctx);
    const claim = await family.claim({
      predecessor,
      successor: id,
      grantId: payload.grantId,
      clientId: payload.clientId ?? null,
      rotation: typeof payload.rotations === 'number' ? payload.rotations : 1,
      at,
      ip,
    });
    if (claim.first) return true;
    await family.presented(predecessor, at, ip);
    await auditGrace(opts, ctx, payload, sinceRotation.get(ctx) ?? 0);
    handedOver.set(ctx, claim.successor);
    return false;
  };
}

/** Puts the successor that stands in the token response of a presentation that did not rotate first. */
export const handOverSuccessor: Middleware = async (ctx, next) => {
  await next();
  const successor = handedOver.get(ctx);
  if (successor === undefined) return;
  const body = ctx.body as Record<string, unknown> | undefined;
  if (body && typeof body === 'object' && typeof body.refresh_token === 'string') {
    ctx.body = { ...body, refresh_token: successor };
  }
};
