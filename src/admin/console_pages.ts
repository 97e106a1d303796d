// The admin console's pages: grants (filtered), agents, users. Server-rendered, no script.
import type { Context } from 'koa';
import { describeGrants, formatWhen } from '../account/grant_view.js';
import { pageUser, type SignedIn } from '../account/session.js';
import type { RouteDeps } from '../http/route_deps.js';
import { listAgents } from './agents.js';
import { grantFilter, type Query } from './grant_filter.js';

const NOTICES: Record<string, (n: number) => string> = {
  'grant-revoked': () => 'Grant revoked. Its refresh tokens are dead and resource servers have been told.',
  'grant-already-revoked': () => 'That grant was already revoked.',
  'user-grants-revoked': (n) => `Revoked ${plural(n, 'grant')} of the user.`,
  'agent-grants-revoked': (n) => `Revoked ${plural(n, 'grant')} of the agent.`,
  'agent-disabled': (n) => `Agent disabled: it cannot get new grants or tokens. ${plural(n, 'grant')} revoked.`,
  'agent-enabled': () => 'Agent enabled.',
  'user-disabled': (n) => `User disabled: they cannot sign in. ${plural(n, 'grant')} revoked.`,
  'user-enabled': () => 'User enabled.',
  unchanged: () => 'Nothing to change.',
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function notice(ctx: Context): string | undefined {
  const make = NOTICES[String(ctx.query.notice)];
  const n = Number(ctx.query.n);
  return make?.(Number.isSafeInteger(n) && n >= 0 ? n : 0);
}

export function common(deps: RouteDeps, ctx: Context, who: SignedIn, section: string, title: string) {
  return {
    title,
    section,
    width: 'wide',
    user: pageUser(who.user),
    csrf: deps.csrf.issue(ctx, who.csrfScope),
    notice: notice(ctx),
    back: ctx.url,
  };
}

export function grantsPage(deps: RouteDeps, ctx: Context, who: SignedIn): void {
  const result = grantFilter(deps.stores, ctx.query as Query);
  const records = result.ok ? deps.stores.grantRecords.list(result.filter) : [];
  const grants = describeGrants(deps.stores, records).map((g) => ({
    ...g,
    since: formatWhen(g.createdAt),
    lastUsed: formatWhen(g.lastUsedAt),
    revoked: g.revokedAt === null ? null : formatWhen(g.revokedAt),
  }));
  const clientFilter = result.ok ? result.filter.clientId : undefined;
  deps.views.render(ctx, 'admin_grants.njk', {
    ...common(deps, ctx, who, 'grants', 'Grants'),
    filter: result.values,
    problem: result.ok ? undefined : result.message,
    resources: deps.stores.resources.list().map((r) => ({ uri: r.uri, name: r.name })),
    grants,
    targetUser: result.ok && result.user ? pageUser(result.user) : undefined,
    targetClient: clientFilter,
  });
}

export function agentsPage(deps: RouteDeps, ctx: Context, who: SignedIn): void {
  const agents = listAgents(deps.stores).map((a) => ({
    ...a,
    registered: formatWhen(a.registeredAt, 'unknown'),
    firstUsed: formatWhen(a.firstUsedAt),
    lastUsed: formatWhen(a.lastUsedAt),
    disabled: a.disabledAt === null ? null : formatWhen(a.disabledAt),
  }));
  deps.views.render(ctx, 'admin_agents.njk', { ...common(deps, ctx, who, 'agents', 'Agents'), agents });
}

export function usersPage(deps: RouteDeps, ctx: Context, who: SignedIn): void {
  const users = deps.stores.users.list().map((u) => ({
    id: u.id,
    username: u.username,
    isAdmin: u.isAdmin,
    disabled: u.disabled,
    created: formatWhen(u.createdAt),
    self: u.id === who.user.id,
  }));
  deps.views.render(ctx, 'admin_users.njk', { ...common(deps, ctx, who, 'users', 'Users'), users });
}
