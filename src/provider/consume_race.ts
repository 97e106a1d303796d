// Single use across connections and nodes. oidc-provider reads `consumed` when it finds a code or
// refresh token and marks it consumed later in the same request, so two requests presenting the
// same one at once (two connections of a PostgreSQL pool, two nodes, or two awaits on SQLite) both
// pass its replay check. The adapter's consume is one conditional UPDATE
// (src/storage/oidc_adapter.ts) that tells which request marked it; the other is a replay and is
// answered as oidc-provider answers one (RFC 9700 §4.14.2 for refresh tokens, OAuth 2.1 §4.1.3 for
// codes): the grant is revoked and the request gets invalid_grant. Inside the refresh-token grace
// window (src/provider/refresh_grace.ts) the loser of a rotation is not a replay: the rotation hook
// hands it the successor that stands.
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ConsumeHook } from '../storage/oidc_adapter.js';

const REPLAYED: Record<string, { grantType: string; message: string } | undefined> = {
  RefreshToken: { grantType: 'refresh_token', message: 'refresh token already used' },
  AuthorizationCode: { grantType: 'authorization_code', message: 'authorization code already consumed' },
};

export function consumeRaceHook(opts: { refreshGraceOn: boolean }): ConsumeHook {
  return async (model, _id, first) => {
    const replay = REPLAYED[model];
    if (first || !replay) return;
    const ctx: KoaContextWithOIDC | undefined = Provider.ctx;
    if (ctx?.oidc?.route !== 'token' || ctx.oidc.params?.grant_type !== replay.grantType) return;
    if (model === 'RefreshToken' && opts.refreshGraceOn) return;
    const grantId = (
      ctx.oidc.entities[model as 'RefreshToken' | 'AuthorizationCode'] as { grantId?: string } | undefined
    )?.grantId;
    if (grantId) {
      const { provider } = ctx.oidc;
      // The adapter deletes every token row of the grant in one call, then the grant goes;
      // 'grant.revoked' records, audits and publishes it as for a replay oidc-provider detects.
      await provider.RefreshToken.revokeByGrantId(grantId);
      await provider.Grant.adapter.destroy(grantId);
      provider.emit('grant.revoked', ctx, grantId);
    }
    throw new errors.InvalidGrant(replay.message);
  };
}
