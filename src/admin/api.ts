// The admin JSON API (/admin/api): the console's operations for scripts. Callers authenticate with
// an admin API token (Authorization: Bearer, RFC 6750) or an admin session; a session call that
// changes state must also send the session's CSRF token in X-CSRF-Token, so a cookie alone is never
// enough. Every answer is JSON with no-store; errors are {error, error_description}.
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import { type AuditFilter, parseSince, queryAudit } from '../audit/query.js';
import { type Actor, domainOf, type Lifecycle, LifecycleError, requestActor, toolLabelRules } from '../grants/index.js';
import { parseBearer } from '../lib/bearer.js';
import { epochSeconds } from '../lib/duration.js';
import { policyStrength } from '../provider/sign_in_policy.js';
import type { User } from '../storage/users.js';
import { errorsAs, HttpError } from '../web/errors.js';
import { hasAnyFactor } from '../web/factors.js';
import { describeGrants } from '../web/grant_view.js';
import { signedIn } from '../web/page_session.js';
import type { RouteDeps } from '../web/route_deps.js';
import { findAgent, listAgents } from './agents.js';
import type { RouteTable } from './console.js';
import { grantFilter, grantPage, type Query, single } from './grant_filter.js';
import { GROUP_API_ROUTES, groupApiHandlers } from './groups_api.js';
import { encodeCursor, linkTo, pageOf, readPage } from './paging.js';
import { policyHandlers } from './policy_api.js';

export const API_ROUTES = [
  'GET /admin/api/grants',
  'GET /admin/api/users',
  'GET /admin/api/audit',
  'POST /admin/api/grants/:id/revoke',
  'POST /admin/api/users/:username/revoke-grants',
  'POST /admin/api/users/:username/disable',
  'POST /admin/api/users/:username/enable',
  'GET /admin/api/clients',
  'POST /admin/api/clients/:id/revoke-grants',
  'POST /admin/api/clients/:id/disable',
  'POST /admin/api/clients/:id/enable',
  'GET /admin/api/client-domains',
  'POST /admin/api/client-domains/:domain/disable',
  'POST /admin/api/client-domains/:domain/enable',
  'GET /admin/api/service-clients',
  'POST /admin/api/service-clients',
  'GET /admin/api/agent-policies',
  'POST /admin/api/agent-policies',
  'POST /admin/api/agent-policies/:id/delete',
  'GET /admin/api/agent-approvals',
  'POST /admin/api/agent-approvals/:id/approve',
  'POST /admin/api/agent-approvals/:id/refuse',
  'POST /admin/api/resource-labels',
  // Groups, their policies and tool labels (src/admin/groups_api.ts).
  ...GROUP_API_ROUTES,
] as const;

const REALM = 'Bearer realm="mcp-oauth admin"';

/** Who is calling, or an HttpError: 401 without (valid) credentials, 403 for non-admins or a missing CSRF header. */
export async function apiCaller(deps: RouteDeps, ctx: Context): Promise<Actor & { userId: string | null }> {
  const header = ctx.get('authorization');
  if (header) {
    const presented = parseBearer(header);
    const token =
      presented.kind === 'token' ? await deps.stores.adminTokens.verify(presented.token, epochSeconds()) : undefined;
    if (!token) {
      ctx.set('WWW-Authenticate', `${REALM}, error="invalid_token"`);
      throw new HttpError(401, 'invalid_token', 'the admin API token is invalid, revoked or malformed');
    }
    if (token.createdBy !== null) {
      const owner = await deps.stores.users.findById(token.createdBy);
      if (!owner || owner.disabled || !owner.isAdmin) {
        throw new HttpError(403, 'forbidden', 'the admin this token belongs to is no longer an active admin');
      }
    }
    return { ...requestActor(ctx, 'admin', `admin-token:${token.id}`), userId: token.createdBy };
  }
  const current = signedIn(ctx);
  if (!current) {
    ctx.set('WWW-Authenticate', REALM);
    throw new HttpError(401, 'unauthorized', 'send an admin API token: Authorization: Bearer <token>');
  }
  if (!current.user.isAdmin) throw new HttpError(403, 'forbidden', 'only administrators may use the admin API');
  // As for the console (./console.ts requireAdminPage): the policy's second factor first.
  if (
    policyStrength(deps.config.secondFactor, current.user, false) &&
    !(await hasAnyFactor(deps.stores.factors, current.user.id))
  ) {
    throw new HttpError(403, 'forbidden', 'set up a passkey or an authenticator app on /account/security first');
  }
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    if (!deps.csrf.verify(ctx, current.csrfScope, ctx.get('x-csrf-token'))) {
      throw new HttpError(
        403,
        'invalid_csrf_token',
        'a call authenticated by the session cookie must send the X-CSRF-Token header',
      );
    }
  }
  return { ...requestActor(ctx, 'admin', current.user.id), userId: current.user.id };
}

/** JSON errors (src/http/errors.ts) and no-store for everything under /admin/api; unmatched paths are 404. */
export function apiEnvelope(deps: RouteDeps): Middleware {
  const asJson = errorsAs(deps.views, deps.log);
  return async (ctx: Context, next: Next) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Pragma', 'no-cache');
    await asJson(ctx, async () => {
      try {
        await next();
        if (ctx.body === undefined && ctx.status === 404) throw new HttpError(404, 'not_found', 'no such API endpoint');
      } catch (thrown) {
        const caught = thrown instanceof LifecycleError ? refusal(thrown) : thrown;
        // Only a 401 says how to authenticate.
        if (!(caught instanceof HttpError && caught.status === 401)) ctx.remove('WWW-Authenticate');
        throw caught;
      }
    });
  };
}

async function userNamed(deps: RouteDeps, ctx: Context): Promise<User> {
  const user = await deps.stores.users.findByUsername(String(ctx.params.username));
  if (!user) throw new HttpError(404, 'not_found', 'no such user');
  return user;
}

async function agentId(deps: RouteDeps, ctx: Context): Promise<string> {
  const id = String(ctx.params.id);
  if (!(await findAgent(deps.stores, id))) throw new HttpError(404, 'not_found', 'no such client');
  return id;
}

/** The domain as given; the lifecycle operation validates it (one validator with the CLI and the config). */
const domainParam = (ctx: Context): string => String(ctx.params.domain);

type Caller = Awaited<ReturnType<typeof apiCaller>>;

/** JSON bodies for the API calls that take one (a key set is a few KiB). */
const jsonBody = bodyParser({
  enableTypes: ['json'],
  jsonLimit: '64kb',
  onError: () => {
    throw new HttpError(400, 'invalid_request', 'the body must be a JSON object');
  },
});

export async function readJson(ctx: Context): Promise<Record<string, unknown>> {
  if (!ctx.is('application/json')) throw new HttpError(415, 'invalid_request', 'send the body as application/json');
  await jsonBody(ctx, async () => {});
  const body = ctx.request.body as unknown;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'invalid_request', 'the body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

const stringList = (value: unknown, field: string): string[] => {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new HttpError(400, 'invalid_request', `${field} must be an array of strings`);
  }
  return value;
};

/** A refused lifecycle operation: 409 when the state of things forbids it, 400 when the request was wrong. */
export function refusal(err: LifecycleError): HttpError {
  return err.reason === 'last_admin'
    ? new HttpError(409, 'conflict', err.message)
    : new HttpError(400, 'invalid_request', err.message);
}

/** The audit list's filters (user by name, client, event family, since), each at most once. */
async function auditFilter(deps: RouteDeps, query: Query): Promise<AuditFilter> {
  const user = single(query, 'user', 64);
  const client = single(query, 'client');
  const event = single(query, 'event', 200);
  const since = single(query, 'since', 64);
  if (user === undefined || client === undefined || event === undefined || since === undefined) {
    throw new HttpError(400, 'invalid_request', 'each filter may be given once, and must not be too long');
  }
  const filter: AuditFilter = {};
  if (user) {
    const found = await deps.stores.users.findByUsername(user);
    if (!found) throw new HttpError(404, 'not_found', 'no such user');
    filter.userId = found.id;
  }
  if (client) filter.clientId = client;
  if (event) filter.event = event;
  if (since) {
    filter.since = parseSince(since, epochSeconds());
    if (filter.since === undefined) {
      throw new HttpError(400, 'invalid_request', 'since takes an age (30m, 1h, 2d), epoch seconds or a date');
    }
  }
  return filter;
}

/** Authenticates every /admin/api request before routing, so an unknown path is 401 too. */
export function requireApiCaller(deps: RouteDeps): Middleware {
  return async (ctx, next) => {
    ctx.state.adminCaller = await apiCaller(deps, ctx);
    await next();
  };
}

const caller = (ctx: Context) => ctx.state.adminCaller as Caller;

/** The list's page (limit, cursor) or a 400. */
function pageParams(ctx: Context, kind: 'offset' | 'before' = 'offset') {
  const page = readPage(ctx.query as Query, kind);
  if (!page.ok) throw new HttpError(400, 'invalid_request', page.message);
  return page;
}

/** `next` (the URL of the next page) and `next_cursor`, only when another page follows. */
function nextPage(deps: RouteDeps, ctx: Context, next: string | undefined) {
  if (next === undefined) return {};
  return { next: `${deps.config.issuer}${linkTo(ctx.path, ctx.query as Query, next)}`, next_cursor: next };
}

export function apiHandlers(deps: RouteDeps, ops: Lifecycle): RouteTable<(typeof API_ROUTES)[number]> {
  const { stores } = deps;
  return {
    'GET /admin/api/grants': async (ctx) => {
      const page = pageParams(ctx);
      const result = await grantFilter(stores, ctx.query as Query);
      if (!result.ok)
        throw new HttpError(result.status, result.status === 404 ? 'not_found' : 'invalid_request', result.message);
      const { records, next } = await grantPage(stores, result.filter, page.limit, page.at);
      ctx.body = { grants: await describeGrants(stores, records), ...nextPage(deps, ctx, next) };
    },
    'GET /admin/api/users': async (ctx) => {
      const page = pageParams(ctx);
      const { items, next } = pageOf(await stores.users.list(), page.limit, page.at);
      ctx.body = {
        users: items.map((u) => ({
          id: u.id,
          username: u.username,
          is_admin: u.isAdmin,
          disabled: u.disabled,
          created_at: u.createdAt,
        })),
        ...nextPage(deps, ctx, next),
      };
    },
    // Newest first; the next page holds older events (the cursor names the last event shown).
    'GET /admin/api/audit': async (ctx) => {
      const page = pageParams(ctx, 'before');
      const query = ctx.query as Query;
      const filter = await auditFilter(deps, query);
      const rows = await queryAudit(stores.sql, { ...filter, beforeId: page.at.before, limit: page.limit + 1 });
      const shown = rows.slice(0, page.limit);
      const last = shown.at(-1);
      const next = rows.length > page.limit && last ? encodeCursor({ before: last.id }) : undefined;
      ctx.body = { events: shown, ...nextPage(deps, ctx, next) };
    },
    'POST /admin/api/grants/:id/revoke': async (ctx) => {
      const id = String(ctx.params.id);
      const outcome = await ops.revokeGrant(caller(ctx), id);
      if (outcome === 'unknown') throw new HttpError(404, 'not_found', 'no such grant');
      ctx.body = { grant_id: id, revoked: outcome === 'revoked' };
    },
    'POST /admin/api/users/:username/revoke-grants': async (ctx) => {
      const client = single(ctx.query as Query, 'client');
      if (client === undefined) throw new HttpError(400, 'invalid_request', 'client may be given once');
      const user = await userNamed(deps, ctx);
      ctx.body = { username: user.username, revoked: await ops.revokeUserGrants(caller(ctx), user, client || null) };
    },
    'POST /admin/api/users/:username/disable': async (ctx) => {
      const user = await userNamed(deps, ctx);
      const who = caller(ctx);
      // A token tied to an admin acts as that admin: not on their own account either.
      if (user.id === who.userId) throw new HttpError(400, 'invalid_request', 'an admin cannot disable themselves');
      const revoked = await ops.disableUser(who, user);
      ctx.body = { username: user.username, disabled: true, changed: revoked !== undefined, revoked: revoked ?? [] };
    },
    'POST /admin/api/users/:username/enable': async (ctx) => {
      const user = await userNamed(deps, ctx);
      ctx.body = { username: user.username, disabled: false, changed: await ops.enableUser(caller(ctx), user) };
    },
    'GET /admin/api/clients': async (ctx) => {
      const page = pageParams(ctx);
      const { items, next } = pageOf(await listAgents(stores), page.limit, page.at);
      ctx.body = { clients: items, ...nextPage(deps, ctx, next) };
    },
    'POST /admin/api/clients/:id/revoke-grants': async (ctx) => {
      const id = await agentId(deps, ctx);
      ctx.body = { client_id: id, revoked: await ops.revokeClientGrants(caller(ctx), id) };
    },
    'POST /admin/api/clients/:id/disable': async (ctx) => {
      const id = await agentId(deps, ctx);
      const revoked = await ops.disableClient(caller(ctx), id);
      ctx.body = { client_id: id, disabled: true, changed: revoked !== undefined, revoked: revoked ?? [] };
    },
    'POST /admin/api/clients/:id/enable': async (ctx) => {
      const id = await agentId(deps, ctx);
      ctx.body = { client_id: id, disabled: false, changed: await ops.enableClient(caller(ctx), id) };
    },
    // Metadata-document agents by domain (docs/design.md#consent-that-tells-the-truth): the domain and all its
    // subdomains.
    'GET /admin/api/client-domains': async (ctx) => {
      ctx.body = { domains: await stores.clientState.blockedDomains() };
    },
    'POST /admin/api/client-domains/:domain/disable': async (ctx) => {
      const domain = domainOf(domainParam(ctx));
      const revoked = await ops.disableDomain(caller(ctx), domain);
      ctx.body = { domain, disabled: true, changed: revoked !== undefined, revoked: revoked ?? [] };
    },
    'POST /admin/api/client-domains/:domain/enable': async (ctx) => {
      const domain = domainOf(domainParam(ctx));
      ctx.body = { domain, disabled: false, changed: await ops.enableDomain(caller(ctx), domain) };
    },
    // Agents without a user (client credentials); disable, enable and revoke them as clients above.
    'GET /admin/api/service-clients': async (ctx) => {
      ctx.body = { service_clients: await ops.listServiceClients() };
    },
    'POST /admin/api/service-clients': async (ctx) => {
      const body = await readJson(ctx);
      if (typeof body.name !== 'string') throw new HttpError(400, 'invalid_request', 'name must be a string');
      if (body.secret !== undefined && typeof body.secret !== 'boolean') {
        throw new HttpError(400, 'invalid_request', 'secret must be true or false');
      }
      const created = await ops.addServiceClient(caller(ctx), {
        name: body.name,
        resources: stringList(body.resources, 'resources'),
        scopes: stringList(body.scopes, 'scopes'),
        ...(body.jwks !== undefined ? { jwks: body.jwks } : {}),
        ...(body.secret === true ? { secret: true } : {}),
      });
      ctx.status = 201;
      ctx.body = {
        client_id: created.clientId,
        // Shown once, in this answer only.
        ...(created.clientSecret ? { client_secret: created.clientSecret } : {}),
        token_endpoint_auth_method: created.service.authMethod,
        resources: created.service.resources,
        scopes: created.service.scopes,
      };
    },
    ...policyHandlers(ops, caller, deps.config.labels.readOnly, deps.config.labels.secondFactor),
    ...groupApiHandlers(deps, ops, caller, toolLabelRules(deps.config)),
  };
}
