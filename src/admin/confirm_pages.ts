// The confirmation step in front of the console's destructive buttons (revoke a grant, revoke all
// grants, disable): the list's button opens this page (a GET, which changes nothing), and only its
// form posts the action. No script: the pages' policy allows none, and a phone tap must not be final.
import type { Context } from 'koa';
import { msg } from '../i18n/translate.js';
import { HttpError } from '../web/errors.js';
import { describeGrants } from '../web/grant_view.js';
import type { SignedIn } from '../web/page_session.js';
import { safeNext } from '../web/page_session.js';
import type { RouteDeps } from '../web/route_deps.js';
import { findAgent } from './agents.js';
import { common } from './console_pages.js';

export type ConfirmKind =
  | 'grant-revoke'
  | 'user-revoke-grants'
  | 'user-disable'
  | 'agent-revoke-grants'
  | 'agent-disable';

/** The sentence's named values (shown emphasised) for each kind, or 404 for an unknown target. */
async function describeTarget(deps: RouteDeps, ctx: Context, kind: ConfirmKind) {
  const id = String(ctx.params.id);
  if (kind === 'grant-revoke') {
    const record = await deps.stores.grantRecords.find(id);
    if (!record) throw new HttpError(404, 'not_found', 'There is no such grant.');
    const [g] = await describeGrants(deps.stores, [record]);
    return {
      key: 'confirm.grantRevoke',
      label: 'account.revoke',
      parts: {
        user: g?.user.username ?? record.accountId,
        agent: g?.client.name ?? record.clientId,
        server: g?.resource.name ?? record.resource,
      },
    };
  }
  if (kind === 'user-revoke-grants' || kind === 'user-disable') {
    const user = await deps.stores.users.findById(id);
    if (!user) throw new HttpError(404, 'not_found', 'There is no such user.');
    const client = typeof ctx.query.client === 'string' && ctx.query.client !== '' ? ctx.query.client : undefined;
    if (kind === 'user-disable')
      return { key: 'confirm.userDisable', label: 'action.disable', parts: { user: user.username } };
    const agent = client ? ((await findAgent(deps.stores, client))?.name ?? client) : undefined;
    return agent
      ? { key: 'confirm.userAgentRevokeAll', label: 'action.revokeAll', parts: { user: user.username, agent }, client }
      : { key: 'confirm.userRevokeAll', label: 'action.revokeAll', parts: { user: user.username } };
  }
  const agent = await findAgent(deps.stores, id);
  if (!agent) throw new HttpError(404, 'not_found', 'There is no such agent.');
  const parts = { agent: agent.name ?? agent.clientId };
  return kind === 'agent-disable'
    ? { key: 'confirm.agentDisable', label: 'action.disable', parts }
    : { key: 'confirm.agentRevokeAll', label: 'action.revokeAll', parts };
}

/** "Revoke …? [Revoke] Cancel": the form posts to the same path the page was asked for. */
export async function confirmPage(
  deps: RouteDeps,
  ctx: Context,
  who: SignedIn,
  kind: ConfirmKind,
  section: string,
): Promise<void> {
  const target = await describeTarget(deps, ctx, kind);
  const back = safeNext(ctx.query.back, '/admin');
  deps.views.render(ctx, 'confirm.njk', {
    ...common(deps, ctx, who, section, ''),
    title: msg('confirm.heading'),
    notice: undefined,
    action: ctx.path,
    back,
    client: 'client' in target ? target.client : undefined,
    sentence: target.key,
    parts: Object.fromEntries(Object.entries(target.parts).map(([k, v]) => [k, { text: v, tag: 'strong' }])),
    button: target.label,
  });
}
