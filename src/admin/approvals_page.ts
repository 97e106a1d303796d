// The approval queue in the console (docs/operating.md#approval-of-new-agents): agents users tried
// to connect while approval is required, with approve and refuse for those waiting; and the page
// showing per-agent policies and the MCP servers' labels.
import type { Context } from 'koa';
import type { Actor, Lifecycle } from '../grants/index.js';
import { HttpError } from '../web/errors.js';
import { formatWhen } from '../web/grant_view.js';
import type { SignedIn } from '../web/page_session.js';
import type { RouteDeps } from '../web/route_deps.js';
import { findAgent } from './agents.js';
import { common } from './console_pages.js';

export function approvalsPage(deps: RouteDeps, ctx: Context, who: SignedIn): void {
  const showAll = ctx.query.state === 'all';
  const approvals = deps.stores.agentApprovals.list(showAll ? undefined : 'pending', 200).map((a) => {
    const agent = findAgent(deps.stores, a.clientId);
    return {
      ...a,
      name: agent?.name ?? null,
      verifiedDomain: agent?.verifiedDomain ?? null,
      redirectHosts: (agent?.redirectHosts ?? []).join(' '),
      requested: formatWhen(a.requestedAt),
      requestedBy: a.requestedBy ? (deps.stores.users.findById(a.requestedBy)?.username ?? null) : null,
      decided: a.decidedAt === null ? null : formatWhen(a.decidedAt),
    };
  });
  deps.views.render(ctx, 'admin_approvals.njk', {
    ...common(deps, ctx, who, 'approvals', 'Approvals'),
    approvals,
    showAll,
    required: deps.config.agentApproval,
  });
}

/** Per-agent policies and the servers' labels (set with the API or the CLI). */
export function policiesPage(deps: RouteDeps, ctx: Context, who: SignedIn): void {
  const policies = deps.stores.agentPolicies.list().map((p) => ({
    id: p.id,
    clientId: p.match.kind === 'client' ? p.match.value : null,
    domain: p.match.kind === 'domain' ? p.match.value : null,
    resources: p.resources,
    scopes: p.scopes,
    readOnly: p.readOnly,
    updated: formatWhen(p.updatedAt),
  }));
  const servers = deps.stores.resources.list().map((r) => ({
    name: r.name,
    uri: r.uri,
    label: deps.stores.resourceLabels.labelOf(r.uri) ?? null,
  }));
  deps.views.render(ctx, 'admin_policies.njk', {
    ...common(deps, ctx, who, 'policies', 'Policies'),
    policies,
    servers,
  });
}

/** The agent of a request in the queue, or 404. */
function queued(deps: RouteDeps, ctx: Context): string {
  const id = String(ctx.params.id);
  if (!deps.stores.agentApprovals.find(id)) throw new HttpError(404, 'not_found', 'There is no such request.');
  return id;
}

export function approvalHandlers(
  deps: RouteDeps,
  ops: Lifecycle,
  admin: (ctx: Context) => Actor,
  done: (ctx: Context, notice: string) => void,
) {
  return {
    'POST /admin/approvals/:id/approve': (ctx: Context) => {
      done(ctx, ops.approveAgent(admin(ctx), queued(deps, ctx)) ? 'agent-approved' : 'unchanged');
    },
    'POST /admin/approvals/:id/refuse': (ctx: Context) => {
      done(ctx, ops.refuseAgent(admin(ctx), queued(deps, ctx)) ? 'agent-refused' : 'unchanged');
    },
  };
}
