// The admin API's routes for groups of users, their policies and the labels of single tools
// (docs/admin-api.md). Groups are named by id in URLs (a group name may hold `/`, as identity
// providers' group paths do) and by name or id in bodies.
import type { Context } from 'koa';
import type { Actor, Lifecycle } from '../grants/index.js';
import { describeGroupPolicy, type UserGroup } from '../lib/group_policy.js';
import { isLabel, LABELS, type Label } from '../lib/labels.js';
import type { ToolLabelRules } from '../lib/tool_labels.js';
import type { ToolLabel } from '../storage/tool_labels.js';
import { HttpError } from '../web/errors.js';
import type { RouteDeps } from '../web/route_deps.js';
import { readJson } from './api.js';

export const GROUP_API_ROUTES = [
  'GET /admin/api/groups',
  'POST /admin/api/groups',
  'GET /admin/api/groups/:id',
  'POST /admin/api/groups/:id/delete',
  'POST /admin/api/groups/:id/members',
  'POST /admin/api/groups/:id/members/:username/delete',
  'GET /admin/api/group-policies',
  'POST /admin/api/group-policies',
  'POST /admin/api/group-policies/:id/delete',
  'GET /admin/api/tool-labels',
  'POST /admin/api/tool-labels',
] as const;

const describeGroup = (g: UserGroup & { members?: number }) => ({
  id: g.id,
  name: g.name,
  description: g.description,
  ...(g.members !== undefined ? { members: g.members } : {}),
  created_at: g.createdAt,
  created_by: g.createdBy,
});

const describeToolLabel = (l: ToolLabel) => ({
  resource: l.resource,
  tool: l.tool,
  label: l.label,
  updated_at: l.updatedAt,
  updated_by: l.updatedBy,
});

/** null or absent: no restriction; otherwise an array of at most 100 strings. */
const optionalList = (value: unknown, field: string): string[] | null => {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string') || value.length > 100) {
    throw new HttpError(400, 'invalid_request', `${field} must be null or an array of at most 100 strings`);
  }
  return value;
};

const numericId = (ctx: Context, what: string): number => {
  const raw = String(ctx.params.id ?? '');
  if (!/^[1-9][0-9]{0,15}$/.test(raw)) throw new HttpError(404, 'not_found', `no such ${what}`);
  return Number(raw);
};

export function groupApiHandlers(
  deps: RouteDeps,
  ops: Lifecycle,
  caller: (ctx: Context) => Actor,
  rules: ToolLabelRules,
) {
  /** The group of the URL, or 404. */
  const groupOf = async (ctx: Context): Promise<UserGroup> => {
    const group = await deps.stores.groups.find(numericId(ctx, 'group'));
    if (!group) throw new HttpError(404, 'not_found', 'no such group');
    return group;
  };

  return {
    'GET /admin/api/groups': async (ctx: Context) => {
      ctx.body = { groups: (await ops.listGroups()).map(describeGroup) };
    },
    'POST /admin/api/groups': async (ctx: Context) => {
      const body = await readJson(ctx);
      if (typeof body.name !== 'string') throw new HttpError(400, 'invalid_request', 'name must be a string');
      if (body.description !== undefined && typeof body.description !== 'string') {
        throw new HttpError(400, 'invalid_request', 'description must be a string');
      }
      const group = await ops.createGroup(caller(ctx), body.name, body.description ?? '');
      ctx.status = 201;
      ctx.body = { group: describeGroup(group) };
    },
    'GET /admin/api/groups/:id': async (ctx: Context) => {
      const { group, members, policy } = await ops.describeGroup((await groupOf(ctx)).id);
      ctx.body = {
        group: describeGroup(group),
        members: members.map((m) => ({ username: m.username, source: m.source })),
        policy: policy ? describeGroupPolicy(policy) : null,
      };
    },
    'POST /admin/api/groups/:id/delete': async (ctx: Context) => {
      const group = await groupOf(ctx);
      await ops.removeGroup(caller(ctx), group.id);
      ctx.body = { id: group.id, removed: true };
    },
    'POST /admin/api/groups/:id/members': async (ctx: Context) => {
      const group = await groupOf(ctx);
      const body = await readJson(ctx);
      if (typeof body.username !== 'string') throw new HttpError(400, 'invalid_request', 'username must be a string');
      const user = await deps.stores.users.findByUsername(body.username);
      if (!user) throw new HttpError(404, 'not_found', 'no such user');
      const { added, narrowed } = await ops.addGroupMember(caller(ctx), group.id, user.id);
      ctx.body = { group: group.name, username: user.username, added, grants_narrowed: narrowed };
    },
    'POST /admin/api/groups/:id/members/:username/delete': async (ctx: Context) => {
      const group = await groupOf(ctx);
      const user = await deps.stores.users.findByUsername(String(ctx.params.username ?? ''));
      if (!user) throw new HttpError(404, 'not_found', 'no such user');
      const removed = await ops.removeGroupMember(caller(ctx), group.id, user.id);
      ctx.body = { group: group.name, username: user.username, removed };
    },
    'GET /admin/api/group-policies': async (ctx: Context) => {
      ctx.body = { policies: (await ops.listGroupPolicies()).map(describeGroupPolicy) };
    },
    'POST /admin/api/group-policies': async (ctx: Context) => {
      const body = await readJson(ctx);
      if (typeof body.group !== 'string' && typeof body.group !== 'number') {
        throw new HttpError(400, 'invalid_request', 'group must be the name or id of a group');
      }
      if (body.read_only !== undefined && typeof body.read_only !== 'boolean') {
        throw new HttpError(400, 'invalid_request', 'read_only must be true or false');
      }
      const { policy, narrowed } = await ops.setGroupPolicy(caller(ctx), {
        group: body.group,
        resources: optionalList(body.resources, 'resources'),
        scopes: optionalList(body.scopes, 'scopes'),
        readOnly: body.read_only === true,
      });
      ctx.body = { policy: describeGroupPolicy(policy), grants_narrowed: narrowed };
    },
    'POST /admin/api/group-policies/:id/delete': async (ctx: Context) => {
      const id = numericId(ctx, 'group policy');
      if (!(await ops.removeGroupPolicy(caller(ctx), id)))
        throw new HttpError(404, 'not_found', 'no such group policy');
      ctx.body = { id, removed: true };
    },
    'GET /admin/api/tool-labels': async (ctx: Context) => {
      const resource = ctx.query.resource;
      if (resource !== undefined && typeof resource !== 'string') {
        throw new HttpError(400, 'invalid_request', 'resource may be given once');
      }
      ctx.body = { tool_labels: (await ops.listToolLabels(resource)).map(describeToolLabel) };
    },
    'POST /admin/api/tool-labels': async (ctx: Context) => {
      const body = await readJson(ctx);
      if (typeof body.resource !== 'string')
        throw new HttpError(400, 'invalid_request', 'name the MCP server in resource');
      if (typeof body.tool !== 'string') throw new HttpError(400, 'invalid_request', 'name the tool in tool');
      if (body.label !== null && !isLabel(body.label)) {
        throw new HttpError(400, 'invalid_request', `label must be null or one of ${LABELS.join(', ')}`);
      }
      const label = body.label as Label | null;
      const result = await ops.setToolLabel(caller(ctx), body.resource, body.tool, label, rules);
      ctx.body = { resource: result.resource, tool: body.tool, label, agents_narrowed: result.cut };
    },
  };
}
