// Console pages for governance: the alerts raised from the audit trail (docs/operating.md#alerts),
// and one grant with its refresh-token family (each rotation: when, from which address, how many
// presentations of the rotated-out token inside the reuse grace window, from how many addresses).
// Neither shows a token value: the family lists rotations, never the tokens themselves.
import type { Context } from 'koa';
import { HttpError } from '../web/errors.js';
import { describeGrants, formatWhen } from '../web/grant_view.js';
import type { SignedIn } from '../web/page_session.js';
import type { RouteDeps } from '../web/route_deps.js';
import { common } from './console_pages.js';

export async function alertsPage(deps: RouteDeps, ctx: Context, who: SignedIn): Promise<void> {
  const showAll = ctx.query.state === 'all';
  const alerts = [];
  for (const a of await deps.stores.alerts.list({ open: !showAll, limit: 200 })) {
    const user = a.userId ? await deps.stores.users.findById(a.userId) : undefined;
    alerts.push({
      ...a,
      when: formatWhen(a.at),
      username: user?.username ?? null,
      acknowledged: a.acknowledgedAt === null ? null : formatWhen(a.acknowledgedAt),
      detailText: JSON.stringify(a.details),
    });
  }
  deps.views.render(ctx, 'admin_alerts.njk', {
    ...common(deps, ctx, who, 'alerts', 'Alerts'),
    alerts,
    showAll,
  });
}

export async function grantPage(deps: RouteDeps, ctx: Context, who: SignedIn): Promise<void> {
  const record = await deps.stores.grantRecords.find(String(ctx.params.id));
  if (!record) throw new HttpError(404, 'not_found', 'There is no such grant.');
  const [grant] = await describeGrants(deps.stores, [record]);
  const family = (await deps.stores.refreshFamily.family(record.id)).map((r) => ({
    ...r,
    rotated: formatWhen(r.rotatedAt),
    lastPresented: formatWhen(r.lastPresentedAt),
  }));
  deps.views.render(ctx, 'admin_grant.njk', {
    ...common(deps, ctx, who, 'grants', 'Grant'),
    grant: grant && {
      ...grant,
      since: formatWhen(grant.createdAt),
      lastUsed: formatWhen(grant.lastUsedAt),
      revoked: grant.revokedAt === null ? null : formatWhen(grant.revokedAt),
    },
    family,
  });
}
