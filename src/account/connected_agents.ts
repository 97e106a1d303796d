// /account: the agents the signed-in user has let act for them, and a Revoke button for each.
import type { Context } from 'koa';
import { type Lifecycle, requestActor } from '../grants/index.js';
import { HttpError } from '../web/errors.js';
import type { RouteDeps } from '../web/route_deps.js';
import { isMetadataDocumentClientId, verifiedDomain } from '../provider/client_metadata_document.js';
import { agentGroupKey } from '../provider/client_policy.js';
import type { GrantRecord } from '../storage/grant_records.js';
import type { Stores } from '../storage/index.js';
import { describeGrants, formatWhen, type GrantView } from '../web/grant_view.js';
import { pageUser, type SignedIn } from '../web/page_session.js';

const NOTICES: Record<string, string> = {
  revoked: 'Access revoked. The agent can no longer act for you there; to connect again it has to ask you again.',
};

/**
 * Which agent a grant belongs to as the user sees it: agents that register anew on every
 * connection (same name, redirect URIs and software id) are one agent; a metadata-document agent
 * is its URL.
 */
function agentKeyOf(stores: Stores, clientId: string, cache: Map<string, string>): string {
  const known = cache.get(clientId);
  if (known) return known;
  const key = isMetadataDocumentClientId(clientId)
    ? `url:${clientId}`
    : (() => {
        const client = stores.clients.find(clientId);
        return client ? `reg:${agentGroupKey(client.metadata)}` : `id:${clientId}`;
      })();
  cache.set(clientId, key);
  return key;
}

/** The user's active grants of the same agent on the same MCP server, this one included. */
function sameAgentGrants(stores: Stores, accountId: string, record: GrantRecord): GrantRecord[] {
  const cache = new Map<string, string>();
  const key = agentKeyOf(stores, record.clientId, cache);
  return stores.grantRecords
    .list({ accountId, resource: record.resource, state: 'active', limit: 5000 })
    .filter((r) => agentKeyOf(stores, r.clientId, cache) === key);
}

/** One entry per agent and MCP server: the newest grant stands for it, scopes and dates span all. */
function groupGrants(stores: Stores, records: GrantRecord[]): (GrantView & { registrations: number })[] {
  const cache = new Map<string, string>();
  const groups = new Map<string, GrantView[]>();
  for (const g of describeGrants(stores, records)) {
    const key = `${agentKeyOf(stores, g.client.id, cache)} ${g.resource.uri}`;
    groups.set(key, [...(groups.get(key) ?? []), g]);
  }
  return [...groups.values()].map((members) => {
    const [head, ...rest] = members as [GrantView, ...GrantView[]];
    const scopes = [...head.scopes];
    for (const m of rest) for (const s of m.scopes) if (!scopes.some((x) => x.scope === s.scope)) scopes.push(s);
    const lastUsed = members.map((m) => m.lastUsedAt).filter((t): t is number => t !== null);
    const domain = verifiedDomain(head.client.id);
    const name = head.client.name ?? (domain ? stores.clientState.find(head.client.id)?.name : null) ?? null;
    return {
      ...head,
      client: { ...head.client, name, registered: head.client.registered || domain !== undefined },
      scopes,
      createdAt: Math.min(...members.map((m) => m.createdAt)),
      lastUsedAt: lastUsed.length ? Math.max(...lastUsed) : null,
      registrations: members.length,
    };
  });
}

export function showConnectedAgents(deps: RouteDeps, ctx: Context, who: SignedIn): void {
  const records = deps.stores.grantRecords.list({ accountId: who.user.id, state: 'active' });
  const grants = groupGrants(deps.stores, records).map((g) => ({
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
export function revokeOwnGrant(deps: RouteDeps, ops: Lifecycle, ctx: Context, who: SignedIn): void {
  const id = String(ctx.params.id);
  const record = deps.stores.grantRecords.find(id);
  if (!record || record.accountId !== who.user.id || record.revokedAt !== null) {
    throw new HttpError(404, 'not_found', 'There is no such connected agent on your account.');
  }
  // The entry stands for every registration of the same agent on that server: revoke them all.
  const others = sameAgentGrants(deps.stores, who.user.id, record).filter((g) => g.id !== id);
  ops.revokeGrants(requestActor(ctx, 'user', who.user.id), [...others.map((g) => g.id), id]);
  ctx.status = 303;
  ctx.redirect('/account?notice=revoked');
}
