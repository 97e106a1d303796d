// The approval queue in the console (docs/operating.md#approval-of-new-agents): agents users tried
// to connect while approval is required, with approve and refuse for those waiting. (The policies
// page is ./policy_pages.ts.)
import type { Context } from 'koa';
import type { Actor, Lifecycle } from '../grants/index.js';
import { HttpError } from '../web/errors.js';
import { formatWhen } from '../web/grant_view.js';
import type { SignedIn } from '../web/page_session.js';
import type { RouteDeps } from '../web/route_deps.js';
import { findAgent } from './agents.js';
import { common } from './console_pages.js';

export async function approvalsPage(deps: RouteDeps, ctx: Context, who: SignedIn): Promise<void> {
  const showAll = ctx.query.state === 'all';
  const approvals = [];
  for (const a of await deps.stores.agentApprovals.list(showAll ? undefined : 'pending', 200)) {
    const agent = await findAgent(deps.stores, a.clientId);
    const requester = a.requestedBy ? await deps.stores.users.findById(a.requestedBy) : undefined;
    approvals.push({
      ...a,
      name: agent?.name ?? null,
      verifiedDomain: agent?.verifiedDomain ?? null,
      redirectHosts: (agent?.redirectHosts ?? []).join(' '),
      requested: formatWhen(a.requestedAt),
      requestedBy: requester?.username ?? null,
      decided: a.decidedAt === null ? null : formatWhen(a.decidedAt),
    });
  }
  deps.views.render(ctx, 'admin_approvals.njk', {
    ...common(deps, ctx, who, 'approvals', 'Approvals'),
    approvals,
    showAll,
    required: deps.config.agentApproval,
  });
}

/** The agent of a request in the queue, or 404. */
async function queued(deps: RouteDeps, ctx: Context): Promise<string> {
  const id = String(ctx.params.id);
  if (!(await deps.stores.agentApprovals.find(id))) throw new HttpError(404, 'not_found', 'There is no such request.');
  return id;
}

export function approvalHandlers(
  deps: RouteDeps,
  ops: Lifecycle,
  admin: (ctx: Context) => Actor,
  done: (ctx: Context, notice: string) => void,
) {
  return {
    'POST /admin/approvals/:id/approve': async (ctx: Context) => {
      const id = await queued(deps, ctx);
      done(ctx, (await ops.approveAgent(admin(ctx), id)) ? 'agent-approved' : 'unchanged');
    },
    'POST /admin/approvals/:id/refuse': async (ctx: Context) => {
      const id = await queued(deps, ctx);
      done(ctx, (await ops.refuseAgent(admin(ctx), id)) ? 'agent-refused' : 'unchanged');
    },
  };
}
