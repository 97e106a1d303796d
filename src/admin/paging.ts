// Pages of the admin lists (grants, agents, users, audit) for the console and the JSON API: a
// `limit` with a cap, and an opaque `cursor` naming where the next page starts. The cursor is
// base64url text so callers treat it as a token and pass it back as given; it says nothing a
// caller could not see already (a position in the list, or the id of the last audit row shown).

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

export type Query = Record<string, string | string[] | undefined>;

/** Where a page starts: after `offset` items, or (audit) before the row with id `before`. */
export interface PagePosition {
  offset: number;
  before: number | undefined;
}

export type PageRequest = { ok: true; limit: number; at: PagePosition } | { ok: false; message: string };

const CURSOR = /^[A-Za-z0-9_-]{1,40}$/;

export function encodeCursor(at: Partial<PagePosition>): string {
  const text = at.before !== undefined ? `b:${at.before}` : `o:${at.offset ?? 0}`;
  return Buffer.from(text).toString('base64url');
}

function decodeCursor(raw: string): PagePosition | undefined {
  if (!CURSOR.test(raw)) return undefined;
  const match = /^([ob]):(\d{1,15})$/.exec(Buffer.from(raw, 'base64url').toString('latin1'));
  if (!match) return undefined;
  const n = Number(match[2]);
  return match[1] === 'o' ? { offset: n, before: undefined } : { offset: 0, before: n };
}

/**
 * `limit` and `cursor` from a query string; each may be given once. A list paged by position
 * (`offset`) or by the last row's id (`before`, the audit trail) takes only its own kind of cursor.
 */
export function readPage(query: Query, kind: 'offset' | 'before' = 'offset', defaultLimit = DEFAULT_PAGE): PageRequest {
  const limit = query.limit;
  const cursor = query.cursor;
  if (Array.isArray(limit) || Array.isArray(cursor))
    return { ok: false, message: 'limit and cursor may be given once' };
  let size = defaultLimit;
  if (limit !== undefined && limit.trim() !== '') {
    const n = Number(limit.trim());
    if (!/^\d{1,5}$/.test(limit.trim()) || n < 1 || n > MAX_PAGE) {
      return { ok: false, message: `limit must be a whole number from 1 to ${MAX_PAGE}` };
    }
    size = n;
  }
  if (cursor === undefined || cursor === '') return { ok: true, limit: size, at: { offset: 0, before: undefined } };
  const at = decodeCursor(cursor);
  if (!at || (kind === 'before') !== (at.before !== undefined))
    return { ok: false, message: 'cursor is not one this server handed out; start again without it' };
  return { ok: true, limit: size, at };
}

/** One page of an in-memory list: the items and, when more follow, the cursor of the next page. */
export function pageOf<T>(items: readonly T[], limit: number, at: PagePosition): { items: T[]; next?: string } {
  const slice = items.slice(at.offset, at.offset + limit);
  return at.offset + limit < items.length
    ? { items: slice, next: encodeCursor({ offset: at.offset + limit }) }
    : { items: slice };
}

/** The path with its query, `cursor` replaced by `next` (or removed when there is none). */
export function linkTo(path: string, query: Query, next: string | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (k === 'cursor' || k === 'notice' || k === 'n' || v === undefined) continue;
    for (const item of [v].flat()) params.append(k, item);
  }
  if (next !== undefined) params.set('cursor', next);
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}
