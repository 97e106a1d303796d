// The admin console (/admin, server-rendered): every route is in CONSOLE_ROUTES, for admins only;
// every POST carries the session's CSRF token and is audited (through src/grants/).
import type { Context, Middleware, Next } from 'koa';
import { type Lifecycle, requestActor, toolLabelRules } from '../grants/index.js';
import { epochSeconds } from '../lib/duration.js';
import { hashPassword, passwordProblem } from '../lib/passwords.js';
import { policyStrength } from '../provider/sign_in_policy.js';
import type { User } from '../storage/users.js';
import { usernameProblem } from '../storage/users.js';
import { redirectInApp } from '../web/base_path.js';
import { HttpError } from '../web/errors.js';
import { hasAnyFactor } from '../web/factors.js';
import { formField, formList } from '../web/form_body.js';
import { type SignedIn, safeNext, signedIn } from '../web/page_session.js';
import { checkedForm } from '../web/pages.js';
import type { RouteDeps } from '../web/route_deps.js';
import { findAgent } from './agents.js';
import { approvalHandlers, approvalsPage } from './approvals_page.js';
import { auditPage } from './audit_page.js';
import { confirmPage } from './confirm_pages.js';
import { agentsPage, grantsPage, serviceClientPage, usersPage } from './console_pages.js';
import { alertsPage, grantPage } from './governance_pages.js';
import { POLICY_CONSOLE_ROUTES, policyConsoleHandlers } from './policy_pages.js';

export const CONSOLE_ROUTES = [
  'GET /admin',
  'GET /admin/agents',
  'GET /admin/users',
  'GET /admin/audit',
  'GET /admin/alerts',
  'GET /admin/grants/:id',
  // The confirmation pages of the destructive POSTs below (src/admin/confirm_pages.ts).
  'GET /admin/grants/:id/revoke',
  'GET /admin/users/:id/revoke-grants',
  'GET /admin/users/:id/disable',
  'GET /admin/agents/:id/revoke-grants',
  'GET /admin/agents/:id/disable',
  'POST /admin/alerts/:id/acknowledge',
  'POST /admin/grants/:id/revoke',
  'POST /admin/users/:id/revoke-grants',
  'POST /admin/users/:id/disable',
  'POST /admin/users/:id/enable',
  'POST /admin/agents/:id/revoke-grants',
  'POST /admin/agents/:id/disable',
  'POST /admin/agents/:id/enable',
  'POST /admin/service-clients',
  'POST /admin/users',
  'POST /admin/users/:id/reset-factors',
  'GET /admin/approvals',
  'POST /admin/approvals/:id/approve',
  'POST /admin/approvals/:id/refuse',
  // Policies, labels and groups (src/admin/policy_pages.ts).
  ...POLICY_CONSOLE_ROUTES,
] as const;

export type RouteTable<K extends string> = Record<K, (ctx: Context) => void | Promise<void>>;

const who = (ctx: Context) => signedIn(ctx) as SignedIn;
const admin = (ctx: Context) => requestActor(ctx, 'admin', who(ctx).user.id);

/**
 * Signed-in admins only: others get 403; nobody signed in is sent to sign in first. Where the
 * policy (MCP_OAUTH_SECOND_FACTOR) wants a second factor of this admin and they have none yet,
 * they are sent to set one up first.
 */
export function requireAdminPage(deps?: RouteDeps): Middleware {
  return async (ctx: Context, next: Next) => {
    const current = signedIn(ctx);
    if (!current) {
      return redirectInApp(ctx, `/account/login?next=${encodeURIComponent(ctx.method === 'GET' ? ctx.url : '/admin')}`);
    }
    if (!current.user.isAdmin) throw new HttpError(403, 'forbidden', 'Only administrators can use the admin console.');
    if (
      deps &&
      policyStrength(deps.config.secondFactor, current.user, false) &&
      !(await hasAnyFactor(deps.stores.factors, current.user.id))
    ) {
      return redirectInApp(ctx, '/account/security?notice=factor-required');
    }
    await next();
  };
}

/** Back to the page the form was on, with a notice. */
function done(ctx: Context, notice: string, n?: number): void {
  const url = new URL(safeNext(formField(ctx.request.body, 'back'), '/admin'), 'http://local.invalid');
  url.searchParams.set('notice', notice);
  if (n === undefined) url.searchParams.delete('n');
  else url.searchParams.set('n', String(n));
  redirectInApp(ctx, url.pathname + url.search);
}

async function targetUser(deps: RouteDeps, ctx: Context): Promise<User> {
  const user = await deps.stores.users.findById(String(ctx.params.id));
  if (!user) throw new HttpError(404, 'not_found', 'There is no such user.');
  return user;
}

async function targetAgent(deps: RouteDeps, ctx: Context): Promise<string> {
  const id = String(ctx.params.id);
  if (!(await findAgent(deps.stores, id))) throw new HttpError(404, 'not_found', 'There is no such agent.');
  return id;
}

export function consoleHandlers(deps: RouteDeps, ops: Lifecycle): RouteTable<(typeof CONSOLE_ROUTES)[number]> {
  return {
    'GET /admin': (ctx) => grantsPage(deps, ctx, who(ctx)),
    'GET /admin/agents': (ctx) => agentsPage(deps, ctx, who(ctx)),
    'GET /admin/users': (ctx) => usersPage(deps, ctx, who(ctx)),
    'GET /admin/audit': (ctx) => auditPage(deps, ctx, who(ctx)),
    'GET /admin/alerts': (ctx) => alertsPage(deps, ctx, who(ctx)),
    'GET /admin/approvals': (ctx) => approvalsPage(deps, ctx, who(ctx)),
    ...approvalHandlers(deps, ops, admin, done),
    ...policyConsoleHandlers(deps, ops, who, admin, done, {
      readOnlyLabels: deps.config.labels.readOnly,
      stepUpLabels: deps.config.labels.secondFactor,
      tools: toolLabelRules(deps.config),
    }),
    'GET /admin/grants/:id': (ctx) => grantPage(deps, ctx, who(ctx)),
    'GET /admin/grants/:id/revoke': (ctx) => confirmPage(deps, ctx, who(ctx), 'grant-revoke', 'grants'),
    'GET /admin/users/:id/revoke-grants': (ctx) => confirmPage(deps, ctx, who(ctx), 'user-revoke-grants', 'grants'),
    'GET /admin/users/:id/disable': (ctx) => confirmPage(deps, ctx, who(ctx), 'user-disable', 'users'),
    'GET /admin/agents/:id/revoke-grants': (ctx) => confirmPage(deps, ctx, who(ctx), 'agent-revoke-grants', 'agents'),
    'GET /admin/agents/:id/disable': (ctx) => confirmPage(deps, ctx, who(ctx), 'agent-disable', 'agents'),
    'POST /admin/alerts/:id/acknowledge': async (ctx) => {
      const id = Number(ctx.params.id);
      if (!Number.isSafeInteger(id) || !(await deps.stores.alerts.find(id))) {
        throw new HttpError(404, 'not_found', 'There is no such alert.');
      }
      const changed = await deps.stores.alerts.acknowledge(id, who(ctx).user.username, epochSeconds());
      done(ctx, changed ? 'alert-acknowledged' : 'unchanged');
    },
    'POST /admin/grants/:id/revoke': async (ctx) => {
      const outcome = await ops.revokeGrant(admin(ctx), String(ctx.params.id));
      if (outcome === 'unknown') throw new HttpError(404, 'not_found', 'There is no such grant.');
      done(ctx, outcome === 'revoked' ? 'grant-revoked' : 'grant-already-revoked');
    },
    'POST /admin/users/:id/revoke-grants': async (ctx) => {
      const user = await targetUser(deps, ctx);
      const client = formField(ctx.request.body, 'client') || null;
      done(ctx, 'user-grants-revoked', (await ops.revokeUserGrants(admin(ctx), user, client)).length);
    },
    'POST /admin/users/:id/disable': async (ctx) => {
      const user = await targetUser(deps, ctx);
      // Checked here too for the page's wording (translated, locales/); the operation refuses it
      // anyway, and the last enabled admin (shown as a page through admin/routes.ts).
      if (user.id === who(ctx).user.id) {
        throw new HttpError(400, 'invalid_request', 'You cannot disable your own account. Ask another admin.');
      }
      const revoked = await ops.disableUser(admin(ctx), user);
      if (revoked) done(ctx, 'user-disabled', revoked.length);
      else done(ctx, 'unchanged');
    },
    'POST /admin/users/:id/enable': async (ctx) => {
      const user = await targetUser(deps, ctx);
      done(ctx, (await ops.enableUser(admin(ctx), user)) ? 'user-enabled' : 'unchanged');
    },
    'POST /admin/agents/:id/revoke-grants': async (ctx) => {
      const agent = await targetAgent(deps, ctx);
      done(ctx, 'agent-grants-revoked', (await ops.revokeClientGrants(admin(ctx), agent)).length);
    },
    'POST /admin/agents/:id/disable': async (ctx) => {
      const revoked = await ops.disableClient(admin(ctx), await targetAgent(deps, ctx));
      if (revoked) done(ctx, 'agent-disabled', revoked.length);
      else done(ctx, 'unchanged');
    },
    'POST /admin/agents/:id/enable': async (ctx) => {
      const agent = await targetAgent(deps, ctx);
      done(ctx, (await ops.enableClient(admin(ctx), agent)) ? 'agent-enabled' : 'unchanged');
    },
    // Agents without a user (src/grants/service_clients.ts checks everything); the secret is on the
    // page that answers this POST and nowhere else.
    'POST /admin/service-clients': async (ctx) => {
      const body = ctx.request.body;
      const jwksText = (formField(body, 'jwks') ?? '').trim();
      let jwks: unknown;
      if (jwksText !== '') {
        try {
          jwks = JSON.parse(jwksText);
        } catch {
          throw new HttpError(400, 'invalid_request', 'The key set is not JSON.');
        }
      }
      const created = await ops.addServiceClient(admin(ctx), {
        name: formField(body, 'name') ?? '',
        resources: formList(body, 'resource'),
        scopes: (formField(body, 'scopes') ?? '').split(/\s+/).filter(Boolean),
        ...(jwks !== undefined ? { jwks } : {}),
        ...(formField(body, 'secret') === 'yes' ? { secret: true } : {}),
      });
      serviceClientPage(deps, ctx, who(ctx), created, (formField(body, 'name') ?? '').trim());
    },
    'POST /admin/users': async (ctx) => {
      const body = ctx.request.body;
      const username = (formField(body, 'username') ?? '').trim();
      const password = formField(body, 'password') ?? '';
      if (usernameProblem(username)) {
        throw new HttpError(
          400,
          'invalid_request',
          'A username has 1 to 64 letters, digits and . _ @ + - and starts with a letter or digit.',
        );
      }
      if (passwordProblem(password)) {
        throw new HttpError(400, 'invalid_request', 'A password has at least 8 and at most 1024 characters.');
      }
      if (await deps.stores.users.findByUsername(username)) {
        throw new HttpError(409, 'invalid_request', 'There is already a user with that name.');
      }
      await ops.createUser(admin(ctx), username, await hashPassword(password), formField(body, 'admin') === 'on');
      done(ctx, 'user-created');
    },
    'POST /admin/users/:id/reset-factors': async (ctx) => {
      await ops.resetFactors(admin(ctx), await targetUser(deps, ctx));
      done(ctx, 'factors-reset');
    },
  };
}

/** Form parsing and the CSRF check for every console POST. */
export function consoleForm(deps: RouteDeps): Middleware {
  return checkedForm(deps.csrf, (ctx) => who(ctx).csrfScope);
}
