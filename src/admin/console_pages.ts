// The admin console's pages: grants (filtered), agents, users. Server-rendered, no script.
import type { Context } from 'koa';
import type { CreatedServiceClient } from '../grants/index.js';
import { type Message, msg } from '../i18n/translate.js';
import { describeGrants, formatWhen } from '../web/grant_view.js';
import { pageUser, type SignedIn } from '../web/page_session.js';
import type { RouteDeps } from '../web/route_deps.js';
import { NO_PASSWORD } from '../web/sso.js';
import { listAgents } from './agents.js';
import { grantFilter, grantPage, type Query } from './grant_filter.js';
import { DEFAULT_PAGE, linkTo, type PageRequest, pageOf, readPage } from './paging.js';

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
  'alert-acknowledged': () => msg('admin.notice.alertAcknowledged'),
  'agent-approved': () => msg('admin.notice.agentApproved'),
  'agent-refused': () => msg('admin.notice.agentRefused'),
  unchanged: () => msg('admin.notice.unchanged'),
  'user-created': () => msg('admin.notice.userCreated'),
  'factors-reset': () => msg('admin.notice.factorsReset'),
  'policy-set': (n) => msg('admin.notice.policySet', { n }),
  'policy-removed': () => msg('admin.notice.policyRemoved'),
  'label-set': (n) => msg('admin.notice.labelSet', { n }),
  'group-created': () => msg('admin.notice.groupCreated'),
  'group-removed': () => msg('admin.notice.groupRemoved'),
  'member-added': (n) => msg('admin.notice.memberAdded', { n }),
  'member-removed': () => msg('admin.notice.memberRemoved'),
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

/** Links to the first page (when not on it) and the next one (when there is one). */
export function pager(ctx: Context, next: string | undefined): { first?: string; next?: string } {
  const query = ctx.query as Query;
  return {
    ...(query.cursor ? { first: linkTo(ctx.path, query, undefined) } : {}),
    ...(next === undefined ? {} : { next: linkTo(ctx.path, query, next) }),
  };
}

/** The page asked for, or the first page and what was wrong with the request. */
function pageOrProblem(ctx: Context): { page: Extract<PageRequest, { ok: true }>; problem?: string } {
  const page = readPage(ctx.query as Query);
  if (page.ok) return { page };
  return { page: { ok: true, limit: DEFAULT_PAGE, at: { offset: 0, before: undefined } }, problem: page.message };
}

export async function grantsPage(deps: RouteDeps, ctx: Context, who: SignedIn): Promise<void> {
  const result = await grantFilter(deps.stores, ctx.query as Query);
  const { page, problem } = pageOrProblem(ctx);
  const found = result.ok ? await grantPage(deps.stores, result.filter, page.limit, page.at) : { records: [] };
  const records = found.records;
  const resources = await deps.stores.resources.list();
  const grants = (await describeGrants(deps.stores, records)).map((g) => ({
    ...g,
    since: formatWhen(g.createdAt),
    lastUsed: formatWhen(g.lastUsedAt),
    revoked: g.revokedAt === null ? null : formatWhen(g.revokedAt),
  }));
  const clientFilter = result.ok ? result.filter.clientId : undefined;
  deps.views.render(ctx, 'admin_grants.njk', {
    ...common(deps, ctx, who, 'grants', 'Grants'),
    filter: result.values,
    problem: result.ok ? problem : result.message,
    pager: pager(ctx, 'next' in found ? found.next : undefined),
    resources: resources.map((r) => ({ uri: r.uri, name: r.name })),
    grants,
    targetUser: result.ok && result.user ? pageUser(result.user) : undefined,
    targetClient: clientFilter,
  });
}

export async function agentsPage(deps: RouteDeps, ctx: Context, who: SignedIn): Promise<void> {
  const { page, problem } = pageOrProblem(ctx);
  const { items, next } = pageOf(await listAgents(deps.stores), page.limit, page.at);
  const resources = await deps.stores.resources.list();
  const agents = items.map((a) => ({
    ...a,
    registered: formatWhen(a.registeredAt, 'unknown'),
    firstUsed: formatWhen(a.firstUsedAt),
    lastUsed: formatWhen(a.lastUsedAt),
    disabled: a.disabledAt === null ? null : formatWhen(a.disabledAt),
  }));
  deps.views.render(ctx, 'admin_agents.njk', {
    ...common(deps, ctx, who, 'agents', 'Agents'),
    agents,
    problem,
    pager: pager(ctx, next),
    serviceResources: resources.map((r) => ({ uri: r.uri, name: r.name })),
  });
}

/** The answer to adding a service client: the only place its secret is ever shown. */
export function serviceClientPage(
  deps: RouteDeps,
  ctx: Context,
  who: SignedIn,
  created: CreatedServiceClient,
  name: string,
): void {
  deps.views.render(ctx, 'admin_service_client.njk', {
    ...common(deps, ctx, who, 'agents', 'Service client added'),
    name,
    clientId: created.clientId,
    secret: created.clientSecret,
    authMethod: created.service.authMethod,
    resources: created.service.resources,
    scopes: created.service.scopes,
  });
}

export async function usersPage(deps: RouteDeps, ctx: Context, who: SignedIn): Promise<void> {
  const { page, problem } = pageOrProblem(ctx);
  const linked = await deps.stores.identities.providersByUser();
  const names = new Map(deps.config.identityProviders.map((p) => [p.name, p.displayName]));
  const { items, next } = pageOf(await deps.stores.users.list(), page.limit, page.at);
  const users = [];
  for (const u of items) {
    const passkeys = (await deps.stores.factors.passkeys(u.id)).length;
    const totp = (await deps.stores.factors.totp(u.id))?.confirmed === true;
    users.push({
      // How the user signs in: the identity providers linked to them, and a password if they have one.
      sources: (linked.get(u.id) ?? []).map((p) => names.get(p) ?? p),
      password: u.passwordHash !== NO_PASSWORD,
      id: u.id,
      username: u.username,
      isAdmin: u.isAdmin,
      disabled: u.disabled,
      created: formatWhen(u.createdAt),
      self: u.id === who.user.id,
      passkeys,
      totp,
    });
  }
  deps.views.render(ctx, 'admin_users.njk', {
    ...common(deps, ctx, who, 'users', 'Users'),
    users,
    problem,
    pager: pager(ctx, next),
  });
}
