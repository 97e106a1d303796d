// The admin JSON API (/admin/api): the console's operations for scripts. Callers authenticate with
// an admin API token (Authorization: Bearer, RFC 6750) or an admin session; a session call that
// changes state must also send the session's CSRF token in X-CSRF-Token, so a cookie alone is never
// enough. Every answer is JSON with no-store; errors are {error, error_description}.
import type { Context, Middleware, Next } from 'koa';
import { describeGrants } from '../web/grant_view.js';
import { signedIn } from '../web/page_session.js';
import { type Actor, domainOf, type Lifecycle, LifecycleError, requestActor } from '../grants/index.js';
import { HttpError } from '../web/errors.js';
import type { RouteDeps } from '../web/route_deps.js';
import { epochSeconds } from '../lib/duration.js';
import type { User } from '../storage/users.js';
import { findAgent, listAgents } from './agents.js';
import type { RouteTable } from './console.js';
import { grantFilter, type Query, single } from './grant_filter.js';
import { policyStrength } from '../provider/sign_in_policy.js';
import { hasAnyFactor } from '../web/factors.js';

export const API_ROUTES = [
  'GET /admin/api/grants',
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
] as const;

const REALM = 'Bearer realm="mcp-oauth admin"';

/** Who is calling, or an HttpError: 401 without (valid) credentials, 403 for non-admins or a missing CSRF header. */
export function apiCaller(deps: RouteDeps, ctx: Context): Actor & { userId: string | null } {
  const header = ctx.get('authorization');
  if (header) {
    const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
    const token = match?.[1] ? deps.stores.adminTokens.verify(match[1], epochSeconds()) : undefined;
    if (!token) {
      ctx.set('WWW-Authenticate', `${REALM}, error="invalid_token"`);
      throw new HttpError(401, 'invalid_token', 'the admin API token is invalid, revoked or malformed');
    }
    if (token.createdBy !== null) {
      const owner = deps.stores.users.findById(token.createdBy);
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
    !hasAnyFactor(deps.stores.factors, current.user.id)
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

/** JSON errors and no-store for everything under /admin/api; unmatched paths are 404. */
export function apiEnvelope(deps: RouteDeps): Middleware {
  return async (ctx: Context, next: Next) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Pragma', 'no-cache');
    try {
      await next();
      if (ctx.body === undefined && ctx.status === 404) throw new HttpError(404, 'not_found', 'no such API endpoint');
    } catch (thrown) {
      const caught = thrown instanceof LifecycleError ? refusal(thrown) : thrown;
      const known = caught instanceof HttpError;
      if (!known) deps.log.error({ err: caught, path: ctx.path, method: ctx.method }, 'admin API request failed');
      const err = known ? caught : new HttpError(500, 'server_error', 'the server could not complete the request');
      if (err.status !== 401) ctx.remove('WWW-Authenticate');
      ctx.status = err.status;
      ctx.body = { error: err.error, error_description: err.description };
    }
  };
}

function userNamed(deps: RouteDeps, ctx: Context): User {
  const user = deps.stores.users.findByUsername(String(ctx.params.username));
  if (!user) throw new HttpError(404, 'not_found', 'no such user');
  return user;
}

function agentId(deps: RouteDeps, ctx: Context): string {
  const id = String(ctx.params.id);
  if (!findAgent(deps.stores, id)) throw new HttpError(404, 'not_found', 'no such client');
  return id;
}

/** The domain as given; the lifecycle operation validates it (one validator with the CLI and the config). */
const domainParam = (ctx: Context): string => String(ctx.params.domain);

type Caller = ReturnType<typeof apiCaller>;

/** A refused lifecycle operation: 409 when the state of things forbids it, 400 when the request was wrong. */
export function refusal(err: LifecycleError): HttpError {
  return err.reason === 'last_admin'
    ? new HttpError(409, 'conflict', err.message)
    : new HttpError(400, 'invalid_request', err.message);
}

/** Authenticates every /admin/api request before routing, so an unknown path is 401 too. */
export function requireApiCaller(deps: RouteDeps): Middleware {
  return async (ctx, next) => {
    ctx.state.adminCaller = apiCaller(deps, ctx);
    await next();
  };
}

const caller = (ctx: Context) => ctx.state.adminCaller as Caller;

export function apiHandlers(deps: RouteDeps, ops: Lifecycle): RouteTable<(typeof API_ROUTES)[number]> {
  const { stores } = deps;
  return {
    'GET /admin/api/grants': (ctx) => {
      const result = grantFilter(stores, ctx.query as Query);
      if (!result.ok)
        throw new HttpError(result.status, result.status === 404 ? 'not_found' : 'invalid_request', result.message);
      ctx.body = { grants: describeGrants(stores, stores.grantRecords.list(result.filter)) };
    },
    'POST /admin/api/grants/:id/revoke': (ctx) => {
      const id = String(ctx.params.id);
      const outcome = ops.revokeGrant(caller(ctx), id);
      if (outcome === 'unknown') throw new HttpError(404, 'not_found', 'no such grant');
      ctx.body = { grant_id: id, revoked: outcome === 'revoked' };
    },
    'POST /admin/api/users/:username/revoke-grants': (ctx) => {
      const client = single(ctx.query as Query, 'client');
      if (client === undefined) throw new HttpError(400, 'invalid_request', 'client may be given once');
      const user = userNamed(deps, ctx);
      ctx.body = { username: user.username, revoked: ops.revokeUserGrants(caller(ctx), user, client || null) };
    },
    'POST /admin/api/users/:username/disable': (ctx) => {
      const user = userNamed(deps, ctx);
      const who = caller(ctx);
      // A token tied to an admin acts as that admin: not on their own account either.
      if (user.id === who.userId) throw new HttpError(400, 'invalid_request', 'an admin cannot disable themselves');
      const revoked = ops.disableUser(who, user);
      ctx.body = { username: user.username, disabled: true, changed: revoked !== undefined, revoked: revoked ?? [] };
    },
    'POST /admin/api/users/:username/enable': (ctx) => {
      const user = userNamed(deps, ctx);
      ctx.body = { username: user.username, disabled: false, changed: ops.enableUser(caller(ctx), user) };
    },
    'GET /admin/api/clients': (ctx) => {
      ctx.body = { clients: listAgents(stores) };
    },
    'POST /admin/api/clients/:id/revoke-grants': (ctx) => {
      const id = agentId(deps, ctx);
      ctx.body = { client_id: id, revoked: ops.revokeClientGrants(caller(ctx), id) };
    },
    'POST /admin/api/clients/:id/disable': (ctx) => {
      const id = agentId(deps, ctx);
      const revoked = ops.disableClient(caller(ctx), id);
      ctx.body = { client_id: id, disabled: true, changed: revoked !== undefined, revoked: revoked ?? [] };
    },
    'POST /admin/api/clients/:id/enable': (ctx) => {
      const id = agentId(deps, ctx);
      ctx.body = { client_id: id, disabled: false, changed: ops.enableClient(caller(ctx), id) };
    },
    // Metadata-document agents by domain (docs/design.md#consent-that-tells-the-truth): the domain and all its
    // subdomains.
    'GET /admin/api/client-domains': (ctx) => {
      ctx.body = { domains: stores.clientState.blockedDomains() };
    },
    'POST /admin/api/client-domains/:domain/disable': (ctx) => {
      const domain = domainOf(domainParam(ctx));
      const revoked = ops.disableDomain(caller(ctx), domain);
      ctx.body = { domain, disabled: true, changed: revoked !== undefined, revoked: revoked ?? [] };
    },
    'POST /admin/api/client-domains/:domain/enable': (ctx) => {
      const domain = domainOf(domainParam(ctx));
      ctx.body = { domain, disabled: false, changed: ops.enableDomain(caller(ctx), domain) };
    },
  };
}
