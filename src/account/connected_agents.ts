// /account: the agents the signed-in user has let act for them, and a Revoke button for each.
import type { Context } from 'koa';
import { actorOf, type Operations } from '../admin/operations.js';
import { HttpError } from '../http/errors.js';
import type { RouteDeps } from '../http/route_deps.js';
import { describeGrants, formatWhen } from './grant_view.js';
import { pageUser, type SignedIn } from './session.js';

const NOTICES: Record<string, string> = {
  revoked: 'Access revoked. The agent can no longer act for you there; to connect again it has to ask you again.',
};

export function showConnectedAgents(deps: RouteDeps, ctx: Context, who: SignedIn): void {
  const records = deps.stores.grantRecords.list({ accountId: who.user.id, state: 'active' });
  const grants = describeGrants(deps.stores, records).map((g) => ({
    ...g,
    since: formatWhen(g.createdAt),
    lastUsed: formatWhen(g.lastUsedAt),
  }));
  deps.views.render(ctx, 'account.njk', {
    title: 'Connected agents',
    section: 'account',
    width: 'medium',
    user: pageUser(who.user),
    csrf: deps.csrf.issue(ctx, who.csrfScope),
    grants,
    notice: NOTICES[String(ctx.query.notice)],
  });
}

/** Only the user's own active grants; any other id is "not found", whoever's it is. */
export function revokeOwnGrant(deps: RouteDeps, ops: Operations, ctx: Context, who: SignedIn): void {
  const id = String(ctx.params.id);
  const record = deps.stores.grantRecords.find(id);
  if (!record || record.accountId !== who.user.id || record.revokedAt !== null) {
    throw new HttpError(404, 'not_found', 'There is no such connected agent on your account.');
  }
  ops.revokeGrant(actorOf(ctx, 'user', who.user.id), id);
  ctx.status = 303;
  ctx.redirect('/account?notice=revoked');
}
