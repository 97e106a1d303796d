// The audit trail in the console, with the filters of `mcp-oauth audit`.
import type { Context } from 'koa';
import { type AuditFilter, parseSince, queryAudit } from '../audit/query.js';
import { epochSeconds } from '../lib/duration.js';
import { formatWhen } from '../web/grant_view.js';
import type { SignedIn } from '../web/page_session.js';
import type { RouteDeps } from '../web/route_deps.js';
import { common, pager } from './console_pages.js';
import { encodeCursor, type Query, readPage } from './paging.js';

const FIELDS = ['user', 'client', 'event', 'since', 'limit'] as const;
type Values = Record<(typeof FIELDS)[number], string>;

function read(ctx: Context): Values {
  const v = {} as Values;
  for (const f of FIELDS) {
    const raw = ctx.query[f];
    v[f] = typeof raw === 'string' ? raw.trim().slice(0, 200) : '';
  }
  return v;
}

/** The filter, or what is wrong and with which field (the page shows it next to that field). */
async function toFilter(
  deps: RouteDeps,
  v: Values,
): Promise<{ filter: AuditFilter } | { problem: string; field: (typeof FIELDS)[number] }> {
  const filter: AuditFilter = { limit: 200 };
  if (v.user) {
    const user = await deps.stores.users.findByUsername(v.user);
    if (!user) return { problem: `There is no user named ${v.user}.`, field: 'user' };
    filter.userId = user.id;
  }
  if (v.client) filter.clientId = v.client;
  if (v.event) filter.event = v.event;
  if (v.since) {
    const since = parseSince(v.since, epochSeconds());
    if (since === undefined)
      return { problem: 'Since takes an age (30m, 1h, 2d, 1w), epoch seconds or a date (2026-01-31).', field: 'since' };
    filter.since = since;
  }
  if (v.limit) {
    const n = Number(v.limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000)
      return { problem: 'Limit is a whole number from 1 to 1000.', field: 'limit' };
    filter.limit = n;
  }
  return { filter };
}

/** Where the page starts (the cursor of an earlier page), or what is wrong with the cursor. */
function startOf(ctx: Context): { beforeId?: number } | { problem: string } {
  const page = readPage({ cursor: (ctx.query as Query).cursor }, 'before');
  if (!page.ok) return { problem: page.message };
  return page.at.before === undefined ? {} : { beforeId: page.at.before };
}

/** An event's details as "name: value" pairs to read, not JSON: nested values stay compact JSON. */
function detailList(details: unknown): { name: string; value: string }[] {
  if (!details || typeof details !== 'object') return [];
  return Object.entries(details as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([name, v]) => ({ name, value: typeof v === 'object' ? JSON.stringify(v) : String(v) }));
}

export async function auditPage(deps: RouteDeps, ctx: Context, who: SignedIn): Promise<void> {
  const values = read(ctx);
  const start = startOf(ctx);
  const result = 'problem' in start ? start : await toFilter(deps, values);
  // One row more than the page, to know whether an older page follows.
  const limit = 'filter' in result ? (result.filter.limit ?? 200) : 0;
  const found =
    'filter' in result && !('problem' in start)
      ? await queryAudit(deps.stores.sql, { ...result.filter, ...start, limit: limit + 1 })
      : [];
  const rows = found.slice(0, limit);
  const last = rows.at(-1);
  const next = found.length > limit && last ? encodeCursor({ before: last.id }) : undefined;
  deps.views.render(ctx, 'admin_audit.njk', {
    ...common(deps, ctx, who, 'audit', 'Audit trail'),
    filter: values,
    problem: 'problem' in result ? result.problem : undefined,
    problemField: 'problem' in result && 'field' in result ? result.field : undefined,
    pager: pager(ctx, next),
    events: rows.map((r) => ({
      ...r,
      when: formatWhen(r.at),
      detailList: detailList(r.details),
    })),
  });
}
