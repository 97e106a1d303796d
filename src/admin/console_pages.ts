// The admin console's pages: grants (filtered), agents, users. Server-rendered, no script.
import type { Context } from 'koa';
import { describeGrants, formatWhen } from '../web/grant_view.js';
import { pageUser, type SignedIn } from '../web/page_session.js';
import type { RouteDeps } from '../web/route_deps.js';
import { type Message, msg } from '../i18n/translate.js';
import { listAgents } from './agents.js';
import { grantFilter, type Query } from './grant_filter.js';

// Catalogue keys (locales/*.json, admin.notice.*): the page shows them in the reader's language.
const NOTICES: Record<string, (n: number) => Message> = {
  'grant-revoked': () => msg('admin.notice.grantRevoked'),
  'grant-already-revoked': () => msg('admin.notice.grantAlreadyRevoked'),
  'user-grants-revoked': (n) => msg('admin.notice.userGrantsRevoked', { n }),
  'agent-grants-revoked': (n) => msg('admin.notice.agentGrantsRevoked', { n }),
  'agent-disabled': (n) => msg('admin.notice.agentDisabled', { n }),
  'agent-enabled': () => msg('admin.notice.agentEnabled'),
  'user-disabled': (n) => msg('admin.notice.userDisabled', { n }),
  'user-enabled': () => msg('admin.notice.userEnabled'),
  unchanged: () => msg('admin.notice.unchanged'),
  'user-created': () => msg('admin.notice.userCreated'),
  'factors-reset': () => msg('admin.notice.factorsReset'),
};

function notice(ctx: Context): Message | undefined {
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
    passkeys: deps.stores.factors.passkeys(u.id).length,
    totp: deps.stores.factors.totp(u.id)?.confirmed === true,
  }));
  deps.views.render(ctx, 'admin_users.njk', { ...common(deps, ctx, who, 'users', 'Users'), users });
}
