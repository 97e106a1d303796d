// The admin API's per-agent policy routes (docs/admin-api.md): list, set (create or
// replace for one agent or domain), remove; and the approval queue of new agents.
import type { Context } from 'koa';
import type { Actor, Lifecycle } from '../grants/index.js';
import { describePolicy } from '../lib/agent_policy.js';
import { isLabel, LABELS, type Label } from '../lib/labels.js';
import { HttpError } from '../web/errors.js';
import { readJson } from './api.js';

/** null or absent: no restriction; otherwise an array of strings. */
const optionalList = (value: unknown, field: string): string[] | null => {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string') || value.length > 100) {
    throw new HttpError(400, 'invalid_request', `${field} must be null or an array of at most 100 strings`);
  }
  return value;
};

const optionalString = (value: unknown, field: string): string | undefined => {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new HttpError(400, 'invalid_request', `${field} must be a string`);
  return value;
};

export function policyHandlers(
  ops: Lifecycle,
  caller: (ctx: Context) => Actor,
  readOnlyLabels: readonly string[],
  stepUpLabels: readonly string[] = [],
) {
  return {
    'GET /admin/api/agent-policies': async (ctx: Context) => {
      ctx.body = { policies: (await ops.listAgentPolicies()).map(describePolicy) };
    },
    'POST /admin/api/agent-policies': async (ctx: Context) => {
      const body = await readJson(ctx);
      if (body.read_only !== undefined && typeof body.read_only !== 'boolean') {
        throw new HttpError(400, 'invalid_request', 'read_only must be true or false');
      }
      const { policy, narrowed } = await ops.setAgentPolicy(caller(ctx), {
        clientId: optionalString(body.client_id, 'client_id'),
        domain: optionalString(body.domain, 'domain'),
        resources: optionalList(body.resources, 'resources'),
        scopes: optionalList(body.scopes, 'scopes'),
        readOnly: body.read_only === true,
      });
      ctx.body = { policy: describePolicy(policy), agents_narrowed: narrowed };
    },
    'POST /admin/api/agent-policies/:id/delete': async (ctx: Context) => {
      const raw = String(ctx.params.id ?? '');
      const id = /^[1-9][0-9]{0,15}$/.test(raw) ? Number(raw) : undefined;
      if (id === undefined || !(await ops.removeAgentPolicy(caller(ctx), id))) {
        throw new HttpError(404, 'not_found', 'no such agent policy');
      }
      ctx.body = { id, removed: true };
    },
    'GET /admin/api/agent-approvals': async (ctx: Context) => {
      const state = ctx.query.state;
      if (
        state !== undefined &&
        state !== 'pending' &&
        state !== 'approved' &&
        state !== 'refused' &&
        state !== 'all'
      ) {
        throw new HttpError(400, 'invalid_request', 'state must be pending, approved, refused or all');
      }
      const list = await ops.listAgentApprovals(state === undefined ? 'pending' : state === 'all' ? undefined : state);
      ctx.body = {
        approvals: list.map((a) => ({
          client_id: a.clientId,
          state: a.state,
          requested_at: a.requestedAt,
          requested_by: a.requestedBy,
          decided_at: a.decidedAt,
          decided_by: a.decidedBy,
        })),
      };
    },
    'POST /admin/api/agent-approvals/:id/approve': async (ctx: Context) => {
      const id = String(ctx.params.id ?? '');
      ctx.body = { client_id: id, state: 'approved', changed: await ops.approveAgent(caller(ctx), id) };
    },
    'POST /admin/api/agent-approvals/:id/refuse': async (ctx: Context) => {
      const id = String(ctx.params.id ?? '');
      ctx.body = { client_id: id, state: 'refused', changed: await ops.refuseAgent(caller(ctx), id) };
    },
    'POST /admin/api/resource-labels': async (ctx: Context) => {
      const body = await readJson(ctx);
      const resource = optionalString(body.resource, 'resource');
      if (!resource) throw new HttpError(400, 'invalid_request', 'name the MCP server in resource');
      if (body.label !== null && !isLabel(body.label)) {
        throw new HttpError(400, 'invalid_request', `label must be null or one of ${LABELS.join(', ')}`);
      }
      const label = body.label as Label | null;
      const narrowed = await ops.setResourceLabel(caller(ctx), resource, label, readOnlyLabels, stepUpLabels);
      ctx.body = { resource, label, agents_narrowed: narrowed };
    },
  };
}
