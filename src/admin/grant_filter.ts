// The grant list's filters, read from a query string the same way for the console and the API.
// Its page (limit, cursor) is read by paging.ts.
import type { GrantFilter, GrantRecord } from '../storage/grant_records.js';
import type { Stores } from '../storage/index.js';
import type { User } from '../storage/users.js';
import { encodeCursor, type PagePosition } from './paging.js';

export type Query = Record<string, string | string[] | undefined>;

export type FilterResult =
  | { ok: true; filter: GrantFilter; user: User | undefined; values: FilterValues }
  | { ok: false; status: 400 | 404; message: string; values: FilterValues };

export interface FilterValues {
  user: string;
  client: string;
  resource: string;
  state: 'active' | 'revoked' | 'all';
}

const STATES = new Set(['active', 'revoked', 'all']);

/** One value of a query parameter: '' when absent, undefined when repeated or too long. */
export function single(query: Query, name: string, max = 2048): string | undefined {
  const value = query[name];
  if (value === undefined) return '';
  if (typeof value !== 'string' || value.length > max) return undefined;
  return value.trim();
}

export async function grantFilter(stores: Stores, query: Query): Promise<FilterResult> {
  const user = single(query, 'user', 64);
  const client = single(query, 'client');
  const resource = single(query, 'resource');
  const state = single(query, 'state', 16);
  const values: FilterValues = {
    user: user ?? '',
    client: client ?? '',
    resource: resource ?? '',
    state: state && STATES.has(state) ? (state as FilterValues['state']) : 'active',
  };
  if (user === undefined || client === undefined || resource === undefined || state === undefined) {
    return { ok: false, status: 400, message: 'each filter may be given once, and must not be too long', values };
  }
  if (state !== '' && !STATES.has(state)) {
    return { ok: false, status: 400, message: 'state must be active, revoked or all', values };
  }
  const found = user ? await stores.users.findByUsername(user) : undefined;
  if (user && !found) return { ok: false, status: 404, message: `no user named ${user}`, values };
  return {
    ok: true,
    user: found,
    values,
    filter: {
      accountId: found?.id,
      clientId: client || undefined,
      resource: resource || undefined,
      state: values.state,
    },
  };
}

/** One page of grants: one row more than the page is read, to know whether another page follows. */
export async function grantPage(
  stores: Stores,
  filter: GrantFilter,
  limit: number,
  at: PagePosition,
): Promise<{ records: GrantRecord[]; next?: string }> {
  const rows = await stores.grantRecords.list({ ...filter, limit: limit + 1, offset: at.offset });
  if (rows.length <= limit) return { records: rows };
  return { records: rows.slice(0, limit), next: encodeCursor({ offset: at.offset + limit }) };
}
