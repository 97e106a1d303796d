// Building blocks for the property-based attacks on the authorization server: hostile values,
// mutations of a valid request (drop, replace, duplicate, add parameters), every body encoding and
// wrong content types, bad Authorization and Cookie headers, odd methods; a digest of the database
// to prove a rejected request changed nothing; and the checks every answer must pass.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { expect } from 'vitest';
import type { Sql } from '../../../src/storage/engine.js';

export type Pairs = [string, string][];

export interface FuzzRequest {
  method: string;
  path: string;
  query: Pairs;
  /** Appended to the encoded query as is (JUNK). */
  rawQuery?: string[];
  headers: Record<string, string>;
  body?: string | Buffer;
}

export interface FuzzResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const HUGE = 'A'.repeat(70_000);
const ODD = [
  '',
  ' ',
  '%',
  '%00',
  '%ZZ',
  '\u0000',
  '\ud800',
  '\uFEFF',
  '🙂'.repeat(50),
  'null',
  'undefined',
  '[]',
  '{}',
  '{"a":',
  '../../../etc/passwd',
  'javascript:alert(1)',
  '<script>alert(1)</script>',
  "' OR '1'='1",
  'https://evil.example/cb',
  'http://127.0.0.1:1/x',
  'http://[::1]:80/',
  '-1',
  '1e309',
  '0x10',
  'NaN',
  '9'.repeat(40),
  'a'.repeat(9000),
  HUGE,
];

/** A hostile string: random (ASCII, full unicode, any code unit), known-odd, or one of `known`. */
export function value(known: string[] = []): fc.Arbitrary<string> {
  const arbs: fc.Arbitrary<string>[] = [
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.constantFrom(...ODD),
  ];
  if (known.length) arbs.push(fc.constantFrom(...known), fc.constantFrom(...known));
  return fc.oneof(...arbs);
}

/** Parameter sets from a valid one: a subset kept, some values replaced, some keys repeated, junk added. */
export function mutatedPairs(valid: Pairs, knownValues: string[] = []): fc.Arbitrary<Pairs> {
  const keys = [...new Set(valid.map(([k]) => k))];
  const key = keys.length
    ? fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 12 }))
    : fc.string({ maxLength: 12 });
  const values = [...knownValues, ...valid.map(([, v]) => v)];
  return fc
    .record({
      // Small changes to a valid request reach deeper than random ones, so most runs keep it whole.
      keep: fc.oneof(
        { arbitrary: fc.constant(valid.map((_, i) => i)), weight: 3 },
        { arbitrary: fc.subarray(valid.map((_, i) => i)), weight: 2 },
      ),
      replace: fc.array(fc.tuple(fc.nat(), value(values)), { maxLength: 2 }),
      add: fc.array(fc.tuple(key, value(values)), { maxLength: 3 }),
    })
    .map(({ keep, replace, add }) => {
      const pairs: Pairs = keep.map((i) => [...(valid[i] as [string, string])]);
      for (const [at, v] of replace) {
        const target = pairs[at % Math.max(pairs.length, 1)];
        if (target) target[1] = v;
      }
      return [...pairs, ...add];
    });
}

/** Raw fragments that proper encoding would never produce: broken percent-escapes, overlong UTF-8, bracket and prototype keys. */
export const JUNK = [
  '%',
  '%E0%A4',
  '%FF%FE',
  '%C0%AF',
  '%00',
  '%%',
  '&&',
  '==',
  'a[]=1&a[]=2',
  'a[b][c]=1',
  '__proto__[x]=1',
  'constructor[prototype][polluted]=1',
  'toString=1',
  'hasOwnProperty=x',
  '+',
];

const CONTENT_TYPES = [
  'application/x-www-form-urlencoded',
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded; charset=utf-16',
  'application/json; charset=latin1',
  'application/xml',
  '*/*',
  'garbage',
];

export interface BodyShape {
  contentType?: string;
  body?: string | Buffer;
}

/** The parameters as a form, JSON (flat, nested or wrongly typed), random bytes or nothing, under any content type. */
export function body(pairs: Pairs): fc.Arbitrary<BodyShape> {
  const form = new URLSearchParams(pairs).toString();
  const json = JSON.stringify(Object.fromEntries(pairs));
  return fc
    .record({
      encoding: fc.constantFrom(
        'form',
        'form',
        'form',
        'form-junk',
        'json',
        'json-odd',
        'bytes',
        'broken-json',
        'deep-json',
        'none',
      ),
      junk: fc.array(fc.constantFrom(...JUNK), { minLength: 1, maxLength: 3 }),
      contentType: fc.oneof(
        { arbitrary: fc.constant('matching'), weight: 4 },
        { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 2 },
        { arbitrary: fc.constant(undefined), weight: 1 },
      ),
      bytes: fc.uint8Array({ maxLength: 64 }),
      odd: fc.jsonValue({ maxDepth: 3 }),
    })
    .map(({ encoding, contentType, bytes, odd, junk }) => {
      let data: string | Buffer | undefined;
      let natural: string | undefined;
      switch (encoding) {
        case 'form':
          data = form;
          natural = 'application/x-www-form-urlencoded';
          break;
        case 'form-junk':
          data = [form, ...junk].join('&');
          natural = 'application/x-www-form-urlencoded';
          break;
        case 'json':
          data = json;
          natural = 'application/json';
          break;
        case 'json-odd':
          data = JSON.stringify(
            Object.fromEntries(pairs.map(([k], i) => [k, i % 2 ? odd : [odd, pairs[i]?.[1] ?? null]])),
          );
          natural = 'application/json';
          break;
        case 'deep-json':
          // 10,000 levels under a real member name: for code that walks or re-serialises the value.
          data = `{${JSON.stringify(pairs[0]?.[0] ?? 'a')}:${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
          natural = 'application/json';
          break;
        case 'bytes':
          data = Buffer.from(bytes);
          break;
        case 'broken-json':
          data = json.slice(0, Math.max(1, json.length - 3));
          natural = 'application/json';
          break;
        default:
          data = undefined;
      }
      const type = contentType === 'matching' ? natural : contentType;
      return { ...(type ? { contentType: type } : {}), ...(data === undefined ? {} : { body: data }) };
    });
}

/** Authorization header values: none, the valid one, or broken Basic/Bearer/DPoP variants. */
export function authorization(valid: string[] = []): fc.Arbitrary<string | undefined> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 4 },
    ...(valid.length ? [{ arbitrary: fc.constantFrom(...valid), weight: 4 }] : []),
    fc.constantFrom(
      'Basic',
      'Bearer',
      'Basic ',
      'Bearer ',
      'DPoP x',
      'Basic !!!',
      `Basic ${b64(':')}`,
      `Basic ${b64('%ZZ:%ZZ')}`,
    ),
    fc.string({ maxLength: 30 }).map((s) => `Basic ${b64(s)}`),
    fc.string({ maxLength: 30 }).map((s) => `Bearer ${encodeURIComponent(s)}`),
    fc.constant(`Bearer ${'x'.repeat(8000)}`),
    ...valid.map((v) => fc.nat({ max: v.length - 1 }).map((i) => `${v.slice(0, i)}${v.slice(i + 1)}`)),
  );
}

/** Cookie headers: none, the valid one, corrupted, duplicated or random. */
export function cookie(valid = ''): fc.Arbitrary<string | undefined> {
  const arbs: fc.Arbitrary<string | undefined>[] = [
    fc.constant(undefined),
    fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
    fc.constant('a=b; a=c; =; ;;'),
  ];
  if (valid) {
    arbs.push(
      fc.constant(valid),
      fc.constant(valid),
      fc.constant(valid),
      fc.constant(valid),
      fc.nat({ max: valid.length - 1 }).map((i) => `${valid.slice(0, i)}x${valid.slice(i + 1)}`),
      fc.constant(`${valid}; ${valid.replace(/=([^;]*)/g, '=junk')}`),
    );
  }
  return fc.oneof(...arbs);
}

export const method = (usual: string) =>
  fc.oneof(
    fc.constant(usual),
    fc.constant(usual),
    fc.constant(usual),
    fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'FOO'),
  );

const ACCEPT = fc.constantFrom(undefined, 'text/html', 'application/json', '*/*', 'image/png', ';;;');

/** Header values HTTP allows on the wire (undici refuses the rest before sending). */
const wire = (s: string) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');

/** Assembles a request from its parts. */
export function assemble(parts: {
  method: string;
  path: string;
  query?: Pairs;
  shape?: BodyShape;
  authorization?: string | undefined;
  cookie?: string | undefined;
  accept?: string | undefined;
  extra?: Record<string, string | undefined>;
  rawQuery?: string[];
}): FuzzRequest {
  const headers: Record<string, string> = {};
  const set = (k: string, v: string | undefined) => {
    if (v !== undefined) headers[k] = wire(v);
  };
  set('authorization', parts.authorization);
  set('cookie', parts.cookie);
  set('accept', parts.accept);
  set('content-type', parts.shape?.contentType);
  for (const [k, v] of Object.entries(parts.extra ?? {})) set(k, v);
  const req: FuzzRequest = { method: parts.method, path: parts.path, query: parts.query ?? [], headers };
  if (parts.rawQuery?.length) req.rawQuery = parts.rawQuery;
  const noBody = parts.method === 'GET' || parts.method === 'HEAD';
  if (parts.shape?.body !== undefined && !noBody) req.body = parts.shape.body;
  return req;
}

export const accept = ACCEPT;

/** Usually nothing, sometimes raw JUNK for the query string. */
export const rawQuery = fc.oneof(
  { arbitrary: fc.constant<string[]>([]), weight: 3 },
  { arbitrary: fc.array(fc.constantFrom(...JUNK), { minLength: 1, maxLength: 3 }), weight: 1 },
);

// Kept-alive connections, given up by the client well before Node's 5 s server-side idle timeout,
// so a reused connection is never one the server is closing. (A connection closed right after its
// answer would instead risk a reset when the server has not read the whole body.)
const agent = new Agent({ keepAliveTimeout: 1000, keepAliveMaxTimeout: 1000 });

const KNOWN_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']);
/** Node's default limit on the request line plus headers (--max-http-header-size). */
const MAX_HEADER_BYTES = 16 * 1024;

export async function send(base: string, req: FuzzRequest): Promise<FuzzResponse> {
  const qs = [new URLSearchParams(req.query).toString(), ...(req.rawQuery ?? [])].filter(Boolean).join('&');
  const url = `${base}${req.path}${qs ? `?${qs}` : ''}`;
  const headerBytes = url.length + Object.entries(req.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  const unknownMethod = !KNOWN_METHODS.has(req.method);
  try {
    const res = await request(url, {
      dispatcher: agent,
      method: req.method as 'GET',
      headers: req.headers,
      ...(req.body === undefined || unknownMethod ? {} : { body: req.body }),
    });
    // An accepted revocation stream never ends by itself: its headers are the answer.
    const streaming = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
    if (streaming) res.body.destroy();
    const text = req.method === 'HEAD' || streaming ? '' : await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  } catch (err) {
    // Node's HTTP parser answers an unknown method (400) or oversized headers (431) and closes the
    // connection at once; a client still sending then sees a reset. Either way the app never ran.
    const code = (err as NodeJS.ErrnoException).code;
    const parserRefusal = unknownMethod || headerBytes > MAX_HEADER_BYTES - 512;
    if (parserRefusal && (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET')) {
      return { status: unknownMethod ? 400 : 431, headers: {}, text: '' };
    }
    throw err;
  }
}

// Time-based bookkeeping that a rejected request may legitimately touch (a credential's last use
// is recorded once it authenticates, before the request body is judged).
const BOOKKEEPING_COLUMNS = new Set(['last_used_at', 'first_used_at']);
// The throttle counters are the point of a refused request: a failed sign-in or a limited address
// is counted (in the database, so every node sees it); the audit events above say the same.
const SKIPPED_TABLES = new Set(['health_check', 'throttles', 'device_polls']);
/** Audit events a rejected request is meant to write: failed sign-ins and throttling. */
export const AUDITED_REJECTIONS = ['login.failure', 'login.throttled', 'rate_limit.refused'];

const canonical = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(canonical)
    : v && typeof v === 'object'
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, x]) => [k, canonical(x)]),
        )
      : v;

/**
 * oidc-provider re-saves the browser session on every request that carries its cookie, pushing its
 * expiry forward (a sliding session), whatever the answer: the Session row less `exp` and
 * `expires_at` (and key order) is what must not change.
 */
function withoutSlidingExpiry(columns: string[], row: unknown[]): unknown[] {
  const at = (c: string) => columns.indexOf(c);
  if (row[at('model')] !== 'Session') return row;
  const copy = [...row];
  const payload = JSON.parse(String(copy[at('payload')])) as Record<string, unknown>;
  delete payload.exp;
  copy[at('payload')] = canonical(payload);
  copy[at('expires_at')] = null;
  return copy;
}

/** Every table and its columns, in declaration order, from the engine's catalogue. */
async function tableColumns(sql: Sql): Promise<Map<string, string[]>> {
  const rows =
    sql.kind === 'sqlite'
      ? await sql.all<{ t: string; c: string }>(
          "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid",
        )
      : await sql.all<{ t: string; c: string }>(
          'SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position',
        );
  const out = new Map<string, string[]>();
  for (const { t, c } of rows) out.set(t, [...(out.get(t) ?? []), c]);
  return out;
}

/** A per-table digest of everything stored, less bookkeeping and intended audit writes. */
export async function digest(sql: Sql): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, all] of await tableColumns(sql)) {
    if (SKIPPED_TABLES.has(name)) continue;
    const columns = all.filter((c) => !BOOKKEEPING_COLUMNS.has(c));
    const where =
      name === 'audit_events' ? ` WHERE event NOT IN (${AUDITED_REJECTIONS.map(() => '?').join(', ')})` : '';
    const params = name === 'audit_events' ? AUDITED_REJECTIONS : [];
    const rows = (
      await sql.all(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${name}"${where} ORDER BY 1, 2`, params)
    ).map((r) => columns.map((c) => r[c]));
    const kept = name === 'oidc_models' ? rows.map((r) => withoutSlidingExpiry(columns, r)) : rows;
    out[name] = createHash('sha256').update(JSON.stringify(kept)).digest('hex').slice(0, 16);
  }
  return out;
}

/** A refusal: an error status, or a redirect that carries an OAuth error back to the client. */
export function rejected(res: FuzzResponse): boolean {
  if (res.status >= 400) return true;
  const location = res.headers.location;
  return res.status >= 300 && res.status < 400 && typeof location === 'string' && /[?#&]error=/.test(location);
}

/**
 * The checks every fuzzed request gets: no 5xx, and a refusal changed nothing stored, except in
 * `mayChange`: tables a refusal is meant to write for this very request (each caller says why).
 */
export async function probe(base: string, sql: Sql, req: FuzzRequest, mayChange: string[] = []): Promise<FuzzResponse> {
  const before = await digest(sql);
  const res = await send(base, req);
  const segments = req.path.split('/');
  const key = `${segments.slice(0, 3).join('/')}…${segments.length > 3 ? segments.at(-1) : ''} ${res.status}`;
  statuses.set(key, (statuses.get(key) ?? 0) + 1);
  expect(res.status, `${req.method} ${req.path} answered ${res.status}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
  if (rejected(res)) {
    const after = await digest(sql);
    const changed = Object.keys(after).filter((t) => after[t] !== before[t] && !mayChange.includes(t));
    expect(changed, `refused ${req.method} ${req.path} (${res.status}) changed ${changed.join(', ')}`).toEqual([]);
  }
  return res;
}

/** Answers seen, by path prefix and status: FUZZ_STATS=1 prints them, to see how deep the runs got. */
export const statuses = new Map<string, number>();
export function printStatuses(): void {
  if (process.env.FUZZ_STATS) console.info(Object.fromEntries([...statuses].sort()));
}

/** fast-check settings: a few hundred runs, the seed in the failure message (fast-check prints it). */
export const RUNS = { numRuns: Number(process.env.FUZZ_RUNS ?? 200) } as const;

export async function stillServing(base: string): Promise<void> {
  const res = await fetch(`${base}/.well-known/oauth-authorization-server`);
  expect(res.status).toBe(200);
  await res.text();
}

/** A request's parts, as assemble() takes them. */
export type Parts = Parameters<typeof assemble>[0];

/**
 * Runs the property over `arb`, each run one probe() (never a 5xx; a refusal changes nothing but
 * the tables `mayChange` names for it), then proves the server still answers. `after` sees each
 * answer, to carry on with what an accepted request rotated or finished.
 */
export async function attack(
  server: { url: string; sql: Sql },
  arb: fc.Arbitrary<Parts>,
  after?: (status: number, text: string) => void | Promise<void>,
  mayChange: (parts: Parts) => string[] = () => [],
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(arb, async (parts) => {
      const res = await probe(server.url, server.sql, assemble(parts), mayChange(parts));
      await after?.(res.status, res.text);
    }),
    RUNS,
  );
  await stillServing(server.url);
}

/**
 * A form request built from a valid one: mutated fields in any body encoding (and in the query when
 * the method is GET or HEAD), mostly the usual method, good or broken cookies, any Accept.
 */
export function formRequest(
  path: string | fc.Arbitrary<string>,
  valid: Pairs,
  validCookie: string,
  known: string[] = [],
  usualMethod = 'POST',
): fc.Arbitrary<Parts> {
  return fc
    .record({
      path: typeof path === 'string' ? fc.constant(path) : path,
      m: method(usualMethod),
      pairs: mutatedPairs(valid, known),
      c: cookie(validCookie),
      a: accept,
      raw: rawQuery,
    })
    .chain(({ path: p, m, pairs, c, a, raw }) =>
      body(pairs).map((shape) => ({
        method: m,
        path: p,
        query: m === 'GET' || m === 'HEAD' ? pairs : [],
        rawQuery: raw,
        shape,
        cookie: c,
        accept: a,
      })),
    );
}
