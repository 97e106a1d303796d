// /account: the agents the signed-in user has let act for them, and a Revoke button for each.

import type { Context } from 'koa';
import { type Lifecycle, requestActor } from '../grants/index.js';
import { type Message, msg } from '../i18n/translate.js';
import { isMetadataDocumentClientId, verifiedDomain } from '../provider/client_metadata_document.js';
import { agentGroupKey } from '../provider/client_policy.js';
import type { GrantRecord } from '../storage/grant_records.js';
import type { Stores } from '../storage/index.js';
import { redirectInApp } from '../web/base_path.js';
import { HttpError } from '../web/errors.js';
import { describeGrants, formatWhen, type GrantView } from '../web/grant_view.js';
import { pageUser, type SignedIn } from '../web/page_session.js';
import type { RouteDeps } from '../web/route_deps.js';

const NOTICES: Record<string, string> = {
  revoked: 'Access revoked. The agent can no longer act for you there; to connect again it has to ask you again.',
};

/**
 * The notice after a revocation, naming the agent and server: looked up from the user's own revoked
 * grant (never from text in the URL, which anyone could put in a link).
 */
async function noticeOf(deps: RouteDeps, ctx: Context, who: SignedIn): Promise<Message | string | undefined> {
  const notice = NOTICES[String(ctx.query.notice)];
  const id = typeof ctx.query.grant === 'string' ? ctx.query.grant : '';
  const record = notice && id ? await deps.stores.grantRecords.find(id) : undefined;
  if (!record || record.accountId !== who.user.id || record.revokedAt === null) return notice;
  const [g] = await describeGrants(deps.stores, [record]);
  const name = g?.client.name ?? (await deps.stores.clientState.find(record.clientId))?.name ?? record.clientId;
  return msg('account.revokedAgent', { agent: name, server: g?.resource.name ?? record.resource });
}

/** The user's own active grant named in the URL, or 404 whoever's it is. */
async function ownActiveGrant(deps: RouteDeps, ctx: Context, who: SignedIn): Promise<GrantRecord> {
  const record = await deps.stores.grantRecords.find(String(ctx.params.id));
  if (!record || record.accountId !== who.user.id || record.revokedAt !== null) {
    throw new HttpError(404, 'not_found', 'There is no such connected agent on your account.');
  }
  return record;
}

/** "Revoke … on …?": the list's Revoke opens this page; only its form revokes (no script needed). */
export async function confirmRevoke(deps: RouteDeps, ctx: Context, who: SignedIn): Promise<void> {
  const record = await ownActiveGrant(deps, ctx, who);
  const [g] = await groupGrants(deps.stores, [record]);
  deps.views.render(ctx, 'confirm.njk', {
    title: msg('confirm.heading'),
    section: 'account',
    width: 'medium',
    user: pageUser(who.user),
    csrf: deps.csrf.issue(ctx, who.csrfScope),
    action: ctx.path,
    back: '/account',
    sentence: 'confirm.accountRevoke',
    parts: {
      agent: { text: g?.client.name ?? record.clientId, tag: 'strong' },
      server: { text: g?.resource.name ?? record.resource, tag: 'strong' },
    },
    button: 'account.revoke',
  });
}

/**
 * Which agent a grant belongs to as the user sees it: agents that register anew on every
 * connection (same name, redirect URIs and software id) are one agent; a metadata-document agent
 * is its URL.
 */
async function agentKeyOf(stores: Stores, clientId: string, cache: Map<string, string>): Promise<string> {
  const known = cache.get(clientId);
  if (known) return known;
  let key = `url:${clientId}`;
  if (!isMetadataDocumentClientId(clientId)) {
    const client = await stores.clients.find(clientId);
    key = client ? `reg:${agentGroupKey(client.metadata)}` : `id:${clientId}`;
  }
  cache.set(clientId, key);
  return key;
}

/** The user's active grants of the same agent on the same MCP server, this one included. */
async function sameAgentGrants(stores: Stores, accountId: string, record: GrantRecord): Promise<GrantRecord[]> {
  const cache = new Map<string, string>();
  const key = await agentKeyOf(stores, record.clientId, cache);
  const same: GrantRecord[] = [];
  for (const r of await stores.grantRecords.list({
    accountId,
    resource: record.resource,
    state: 'active',
    limit: 5000,
  })) {
    if ((await agentKeyOf(stores, r.clientId, cache)) === key) same.push(r);
  }
  return same;
}

/** One entry per agent and MCP server: the newest grant stands for it, scopes and dates span all. */
async function groupGrants(stores: Stores, records: GrantRecord[]): Promise<(GrantView & { registrations: number })[]> {
  const cache = new Map<string, string>();
  const groups = new Map<string, GrantView[]>();
  for (const g of await describeGrants(stores, records)) {
    const key = `${await agentKeyOf(stores, g.client.id, cache)} ${g.resource.uri}`;
    groups.set(key, [...(groups.get(key) ?? []), g]);
  }
  const entries: (GrantView & { registrations: number })[] = [];
  for (const members of groups.values()) {
    const [head, ...rest] = members as [GrantView, ...GrantView[]];
    const scopes = [...head.scopes];
    for (const m of rest) for (const s of m.scopes) if (!scopes.some((x) => x.scope === s.scope)) scopes.push(s);
    const lastUsed = members.map((m) => m.lastUsedAt).filter((t): t is number => t !== null);
    const domain = verifiedDomain(head.client.id);
    const name = head.client.name ?? (domain ? (await stores.clientState.find(head.client.id))?.name : null) ?? null;
    entries.push({
      ...head,
      client: { ...head.client, name, registered: head.client.registered || domain !== undefined },
      scopes,
      createdAt: Math.min(...members.map((m) => m.createdAt)),
      lastUsedAt: lastUsed.length ? Math.max(...lastUsed) : null,
      registrations: members.length,
    });
  }
  return entries;
}

export async function showConnectedAgents(deps: RouteDeps, ctx: Context, who: SignedIn): Promise<void> {
  const records = await deps.stores.grantRecords.list({ accountId: who.user.id, state: 'active' });
  const notice = await noticeOf(deps, ctx, who);
  const grants = (await groupGrants(deps.stores, records)).map((g) => ({
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
    notice,
  });
}

/** Only the user's own active grants; any other id is "not found", whoever's it is. */
export async function revokeOwnGrant(deps: RouteDeps, ops: Lifecycle, ctx: Context, who: SignedIn): Promise<void> {
  const record = await ownActiveGrant(deps, ctx, who);
  const id = record.id;
  // The entry stands for every registration of the same agent on that server: revoke them all.
  const others = (await sameAgentGrants(deps.stores, who.user.id, record)).filter((g) => g.id !== id);
  await ops.revokeGrants(requestActor(ctx, 'user', who.user.id), [...others.map((g) => g.id), id]);
  redirectInApp(ctx, `/account?notice=revoked&grant=${encodeURIComponent(id)}`);
}
