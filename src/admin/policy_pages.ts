// Console pages for governance policy (docs/operating.md): per-agent and per-group policies, the
// labels of MCP servers and of single tools (/admin/policies), and groups of users with their
// members (/admin/groups). Every change goes through the lifecycle operations (src/grants/), which
// check it and write the audit trail; the console form middleware has checked the CSRF token.
import type { Context } from 'koa';
import type { Actor, Lifecycle } from '../grants/index.js';
import { isLabel, LABELS, type Label } from '../lib/labels.js';
import type { ToolLabelRules } from '../lib/tool_labels.js';
import { HttpError } from '../web/errors.js';
import { formField, formList } from '../web/form_body.js';
import { formatWhen } from '../web/grant_view.js';
import type { SignedIn } from '../web/page_session.js';
import type { RouteDeps } from '../web/route_deps.js';
import { common } from './console_pages.js';

export const POLICY_CONSOLE_ROUTES = [
  'GET /admin/policies',
  'POST /admin/policies/agents',
  'POST /admin/policies/agents/:id/remove',
  'POST /admin/policies/groups',
  'POST /admin/policies/groups/:id/remove',
  'POST /admin/labels/servers',
  'POST /admin/labels/tools',
  'GET /admin/groups',
  'GET /admin/groups/:id',
  'POST /admin/groups',
  'POST /admin/groups/:id/remove',
  'POST /admin/groups/:id/members',
  'POST /admin/groups/:id/members/:user/remove',
] as const;

/** A positive id from the URL, or 404 (`what` names it in the page). */
const idParam = (ctx: Context, message: string): number => {
  const raw = String(ctx.params.id ?? '');
  if (!/^[1-9][0-9]{0,15}$/.test(raw)) throw new HttpError(404, 'not_found', message);
  return Number(raw);
};

/** The servers, scopes and read-only switch of a policy form (none ticked, none typed: any). */
function rulesFromForm(body: unknown) {
  const resources = formList(body, 'resource');
  const scopes = (formField(body, 'scopes') ?? '').split(/\s+/).filter(Boolean);
  return {
    resources: resources.length > 0 ? resources : null,
    scopes: scopes.length > 0 ? scopes : null,
    readOnly: formField(body, 'read_only') === 'on',
  };
}

const labelFromForm = (body: unknown): Label | null => {
  const value = formField(body, 'label');
  if (value === 'none') return null;
  if (!isLabel(value)) throw new HttpError(400, 'invalid_request', 'Choose one of the labels.');
  return value;
};

async function policiesPage(deps: RouteDeps, ops: Lifecycle, ctx: Context, who: SignedIn): Promise<void> {
  const { stores } = deps;
  const policies = (await ops.listAgentPolicies()).map((p) => ({
    id: p.id,
    clientId: p.match.kind === 'client' ? p.match.value : null,
    domain: p.match.kind === 'domain' ? p.match.value : null,
    resources: p.resources,
    scopes: p.scopes,
    readOnly: p.readOnly,
    updated: formatWhen(p.updatedAt),
  }));
  const groupPolicies = (await ops.listGroupPolicies()).map((p) => ({ ...p, updated: formatWhen(p.updatedAt) }));
  const servers = [];
  for (const r of await stores.resources.list()) {
    servers.push({ name: r.name, uri: r.uri, label: (await stores.resourceLabels.labelOf(r.uri)) ?? null });
  }
  deps.views.render(ctx, 'admin_policies.njk', {
    ...common(deps, ctx, who, 'policies', 'Policies'),
    policies,
    groupPolicies,
    groups: await ops.listGroups(),
    servers,
    labels: LABELS,
    toolLabels: await ops.listToolLabels(),
  });
}

async function groupsPage(deps: RouteDeps, ops: Lifecycle, ctx: Context, who: SignedIn): Promise<void> {
  const withPolicy = new Set((await ops.listGroupPolicies()).map((p) => p.groupId));
  const groups = (await ops.listGroups()).map((g) => ({
    ...g,
    policy: withPolicy.has(g.id),
    created: formatWhen(g.createdAt),
  }));
  deps.views.render(ctx, 'admin_groups.njk', { ...common(deps, ctx, who, 'groups', 'Groups'), groups });
}

async function groupPage(deps: RouteDeps, ops: Lifecycle, ctx: Context, who: SignedIn): Promise<void> {
  const group = await deps.stores.groups.find(idParam(ctx, 'There is no such group.'));
  if (!group) throw new HttpError(404, 'not_found', 'There is no such group.');
  const { members, policy } = await ops.describeGroup(group.id);
  deps.views.render(ctx, 'admin_group.njk', {
    ...common(deps, ctx, who, 'groups', 'Groups'),
    group,
    members,
    policy,
  });
}

export function policyConsoleHandlers(
  deps: RouteDeps,
  ops: Lifecycle,
  who: (ctx: Context) => SignedIn,
  admin: (ctx: Context) => Actor,
  done: (ctx: Context, notice: string, n?: number) => void,
  rules: { readOnlyLabels: readonly string[]; stepUpLabels: readonly string[]; tools: ToolLabelRules },
) {
  const group = async (ctx: Context) => {
    const found = await deps.stores.groups.find(idParam(ctx, 'There is no such group.'));
    if (!found) throw new HttpError(404, 'not_found', 'There is no such group.');
    return found;
  };
  return {
    'GET /admin/policies': (ctx: Context) => policiesPage(deps, ops, ctx, who(ctx)),
    'GET /admin/groups': (ctx: Context) => groupsPage(deps, ops, ctx, who(ctx)),
    'GET /admin/groups/:id': (ctx: Context) => groupPage(deps, ops, ctx, who(ctx)),
    'POST /admin/policies/agents': async (ctx: Context) => {
      const body = ctx.request.body;
      const kind = formField(body, 'kind');
      const value = (formField(body, 'value') ?? '').trim();
      if (kind !== 'client' && kind !== 'domain') {
        throw new HttpError(400, 'invalid_request', 'Name the agent by its client id or by a domain.');
      }
      const { narrowed } = await ops.setAgentPolicy(admin(ctx), {
        ...(kind === 'client' ? { clientId: value } : { domain: value }),
        ...rulesFromForm(body),
      });
      done(ctx, 'policy-set', narrowed.length);
    },
    'POST /admin/policies/agents/:id/remove': async (ctx: Context) => {
      const removed = await ops.removeAgentPolicy(admin(ctx), idParam(ctx, 'There is no such policy.'));
      if (!removed) throw new HttpError(404, 'not_found', 'There is no such policy.');
      done(ctx, 'policy-removed');
    },
    'POST /admin/policies/groups': async (ctx: Context) => {
      const body = ctx.request.body;
      const id = Number(formField(body, 'group'));
      if (!Number.isSafeInteger(id) || id < 1 || !(await deps.stores.groups.find(id))) {
        throw new HttpError(400, 'invalid_request', 'Choose one of the groups.');
      }
      const { narrowed } = await ops.setGroupPolicy(admin(ctx), { group: id, ...rulesFromForm(body) });
      done(ctx, 'policy-set', narrowed);
    },
    'POST /admin/policies/groups/:id/remove': async (ctx: Context) => {
      const removed = await ops.removeGroupPolicy(admin(ctx), idParam(ctx, 'There is no such policy.'));
      if (!removed) throw new HttpError(404, 'not_found', 'There is no such policy.');
      done(ctx, 'policy-removed');
    },
    'POST /admin/labels/servers': async (ctx: Context) => {
      const body = ctx.request.body;
      const cut = await ops.setResourceLabel(
        admin(ctx),
        formField(body, 'resource') ?? '',
        labelFromForm(body),
        rules.readOnlyLabels,
        rules.stepUpLabels,
      );
      done(ctx, 'label-set', cut.length);
    },
    'POST /admin/labels/tools': async (ctx: Context) => {
      const body = ctx.request.body;
      const result = await ops.setToolLabel(
        admin(ctx),
        formField(body, 'resource') ?? '',
        (formField(body, 'tool') ?? '').trim(),
        labelFromForm(body),
        rules.tools,
      );
      done(ctx, result.changed ? 'label-set' : 'unchanged', result.cut);
    },
    'POST /admin/groups': async (ctx: Context) => {
      const body = ctx.request.body;
      await ops.createGroup(
        admin(ctx),
        (formField(body, 'name') ?? '').trim(),
        (formField(body, 'description') ?? '').trim(),
      );
      done(ctx, 'group-created');
    },
    'POST /admin/groups/:id/remove': async (ctx: Context) => {
      await ops.removeGroup(admin(ctx), (await group(ctx)).id);
      done(ctx, 'group-removed');
    },
    'POST /admin/groups/:id/members': async (ctx: Context) => {
      const target = await group(ctx);
      const user = await deps.stores.users.findByUsername((formField(ctx.request.body, 'username') ?? '').trim());
      if (!user) throw new HttpError(404, 'not_found', 'There is no such user.');
      const { added, narrowed } = await ops.addGroupMember(admin(ctx), target.id, user.id);
      done(ctx, added ? 'member-added' : 'unchanged', narrowed);
    },
    'POST /admin/groups/:id/members/:user/remove': async (ctx: Context) => {
      const target = await group(ctx);
      const removed = await ops.removeGroupMember(admin(ctx), target.id, String(ctx.params.user ?? ''));
      done(ctx, removed ? 'member-removed' : 'unchanged');
    },
  };
}
