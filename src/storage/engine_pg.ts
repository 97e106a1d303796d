// The PostgreSQL engine: the same `Sql` as sqliteEngine (src/storage/engine.ts) over a pg.Pool, so
// the repositories' SQL (the portable subset of docs/storage.md) runs unchanged on both engines.
//   - `?` and `@name` placeholders become PostgreSQL's `$1…` (translated once per SQL text);
//   - BIGINT and NUMERIC results come back as JS numbers like SQLite's INTEGER (type parsers of this
//     pool only: the global pg.types stay untouched for any other user of pg in the process);
//   - a transaction is one pooled client from BEGIN to COMMIT; statements awaited inside fn find it
//     through AsyncLocalStorage, as on SQLite;
//   - notify is pg_notify, which PostgreSQL itself holds back until COMMIT (and drops on ROLLBACK);
//     listen runs on one dedicated connection that comes back after a drop and then wakes every
//     listener once, so a consumer re-reads its cursor (the cursor lives in a table: nothing is lost).
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { BoundedMap } from '../lib/bounded_map.js';
import { refuseNul, type Sql, type SqlDialect, type SqlParams, type SqlValue } from './engine.js';
import { createListener } from './engine_pg_listen.js';

export interface PostgresOptions {
  /** `postgres://user[:password]@host:port/db?sslmode=verify-full&sslrootcert=/path` (pg's own syntax). */
  readonly url: string;
  /** Connections in the pool (besides the one listening connection). */
  readonly poolSize?: number;
  /** How long to wait for a new connection (or a free one from a full pool), in ms. */
  readonly connectTimeoutMs?: number;
  /** How long an unused pooled connection stays open, in ms. */
  readonly idleTimeoutMs?: number;
  /** How long a transaction may sit idle before PostgreSQL ends its session, in ms. */
  readonly idleInTransactionMs?: number;
  /** Back-off of the listening connection after a drop, in ms: doubles from min up to max. */
  readonly reconnectMs?: { readonly min: number; readonly max: number };
  /** Shown in pg_stat_activity; the listening connection gets `-listen` appended. */
  readonly applicationName?: string;
  /** Errors that belong to no request (a dropped idle or listening connection): for the log. */
  readonly onError?: (err: Error) => void;
}

const PG_DIALECT: SqlDialect = {
  forUpdate: ' FOR UPDATE',
  jsonText: (column, key) => {
    if (!/^[A-Za-z0-9_]+$/.test(key)) throw new TypeError(`jsonText: unsupported key ${JSON.stringify(key)}`);
    return `(${column}::jsonb ->> '${key}')`;
  },
};

// ---- placeholders -------------------------------------------------------------------------------

interface Translated {
  readonly text: string;
  /** Named placeholders in $n order; undefined when the statement uses `?`. */
  readonly names?: readonly string[];
  readonly positional: number;
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_CHAR = /[A-Za-z0-9_]/;

/**
 * `?` → `$1, $2 …` in order; `@name` → `$n`, the same name always the same n. String literals
 * ('…', E'…' with backslash escapes, $tag$…$tag$), quoted identifiers and comments are copied as
 * they are, so a `?` or `@` inside them stays text.
 */
export function translatePlaceholders(sql: string): Translated {
  let out = '';
  let positional = 0;
  const names: string[] = [];
  let i = 0;
  const n = sql.length;
  const copyUntil = (end: number) => {
    out += sql.slice(i, end);
    i = end;
  };
  while (i < n) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === "'") {
      // E'…' strings take backslash escapes; a plain string only the doubled quote.
      const escapes = i > 0 && /[eE]/.test(sql[i - 1] as string) && (i < 2 || !IDENT_CHAR.test(sql[i - 2] as string));
      let j = i + 1;
      while (j < n) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      copyUntil(Math.min(j + 1, n));
    } else if (c === '"') {
      let j = i + 1;
      while (j < n && !(sql[j] === '"' && sql[j + 1] !== '"')) j += sql[j] === '"' ? 2 : 1;
      copyUntil(Math.min(j + 1, n));
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      copyUntil(end === -1 ? n : end);
    } else if (c === '/' && next === '*') {
      // PostgreSQL block comments nest.
      let depth = 0;
      let j = i;
      while (j < n) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
          if (depth === 0) break;
        } else j++;
      }
      copyUntil(j);
    } else if (c === '$' && (i === 0 || !IDENT_CHAR.test(sql[i - 1] as string))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        copyUntil(close === -1 ? n : close + tag[0].length);
      } else copyUntil(i + 1);
    } else if (c === '?') {
      positional++;
      out += `$${positional}`;
      i++;
    } else if (c === '@' && next !== undefined && IDENT_START.test(next)) {
      let j = i + 1;
      while (j < n && IDENT_CHAR.test(sql[j] as string)) j++;
      const name = sql.slice(i + 1, j);
      let index = names.indexOf(name);
      if (index === -1) index = names.push(name) - 1;
      out += `$${index + 1}`;
      i = j;
    } else {
      copyUntil(i + 1);
    }
  }
  if (positional > 0 && names.length > 0) {
    throw new TypeError('a statement uses either ? or @name placeholders, not both');
  }
  return names.length > 0 ? { text: out, names, positional: 0 } : { text: out, positional };
}

const toPg = (value: SqlValue): unknown => {
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
};

function bindValues(t: Translated, params: SqlParams | undefined): unknown[] {
  refuseNul(params);
  if (t.names) {
    if (params === undefined || Array.isArray(params)) throw new RangeError('named parameters (@name) need an object');
    const named = params as Readonly<Record<string, SqlValue>>;
    return t.names.map((name) => {
      const value = named[name];
      if (value === undefined) throw new RangeError(`missing named parameter "${name}"`);
      return toPg(value);
    });
  }
  const list = (params ?? []) as readonly SqlValue[];
  if (!Array.isArray(list)) throw new RangeError('positional parameters (?) need an array');
  if (list.length !== t.positional) {
    throw new RangeError(`the statement has ${t.positional} ? placeholders but ${list.length} values were given`);
  }
  return list.map(toPg);
}

// ---- type parsers -------------------------------------------------------------------------------

const INT8 = 20;
const NUMERIC = 1700;

const toNumber = (text: string): number => {
  const value = Number(text);
  // A silently rounded id or counter would be a wrong answer; no column here comes near 2^53.
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) throw new RangeError('integer out of JS range');
  return value;
};

/** SQLite gives integers as JS numbers; so does this pool (pg's default would be strings). */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if ((oid === INT8 || oid === NUMERIC) && format !== 'binary') return toNumber;
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

// ---- the engine ---------------------------------------------------------------------------------

interface TxState {
  client: pg.PoolClient;
  open: boolean;
}

/** The password of a connection URL, to scrub it from any error text that might echo it. */
function passwordOf(url: string): string | undefined {
  const parsed = URL.parse(url);
  const password = parsed?.password ? decodeURIComponent(parsed.password) : undefined;
  return password && password.length > 0 ? password : undefined;
}

export function postgresEngine(options: PostgresOptions): Sql {
  if (!URL.parse(options.url)) {
    // Never new URL(url) unguarded: its TypeError carries the whole input, password included.
    throw new TypeError('the database URL is not a valid postgres:// URL');
  }
  const password = passwordOf(options.url);
  const scrub = (err: unknown): unknown => {
    if (password && err instanceof Error) {
      err.message = err.message.split(password).join('***');
      if (err.stack) err.stack = err.stack.split(password).join('***');
    }
    return err;
  };
  const onError = options.onError ?? (() => {});
  const appName = options.applicationName ?? 'mcp-oauth';
  const clientConfig: pg.ClientConfig = {
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: appName,
    keepAlive: true,
    // A node that stalls inside a transaction must not hold its row locks for ever: the server
    // ends such a session (the transaction then rejects and its connection is discarded).
    idle_in_transaction_session_timeout: options.idleInTransactionMs ?? 60_000,
    types: TYPES,
  };
  const pool = new pg.Pool({
    ...clientConfig,
    max: options.poolSize ?? 10,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
  });
  // An idle pooled connection that drops emits 'error' on the pool; without a handler the
  // process would exit. The pool discards that client by itself.
  pool.on('error', (err) => onError(scrub(err) as Error));

  // Statements are fixed strings; a bound keeps a caller that builds them from data from growing
  // the cache without end.
  const translations = new BoundedMap<string, Translated>(2000);
  const translate = (sql: string) => {
    let t = translations.get(sql);
    if (!t) {
      t = translatePlaceholders(sql);
      translations.set(sql, t);
    }
    return t;
  };
  const inside = new AsyncLocalStorage<TxState>();

  // A callback created inside a transaction (a timer, a promise resolved later) keeps its async
  // context after the transaction ended: its statements then run on the pool like any other, never
  // on a client that went back to the pool.
  const clientFor = (): pg.Pool | pg.PoolClient => {
    const tx = inside.getStore();
    return tx?.open ? tx.client : pool;
  };

  async function query(sql: string, params: SqlParams | undefined): Promise<pg.QueryResult> {
    const t = translate(sql);
    const values = bindValues(t, params);
    try {
      return await clientFor().query({ text: t.text, values });
    } catch (err) {
      throw scrub(err);
    }
  }

  async function transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (inside.getStore()?.open) return fn();
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw scrub(err);
    }
    const state: TxState = { client, open: true };
    let broken: Error | undefined;
    // A checked-out client has no 'error' listener of the pool's: a connection that drops while
    // fn awaits something else would otherwise be an uncaught exception that ends the process.
    const onDrop = (err: Error) => {
      broken = err;
    };
    client.on('error', onDrop);
    try {
      await client.query('BEGIN');
      let result: T;
      try {
        result = await inside.run(state, fn);
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          broken = rollbackErr as Error;
        }
        throw err;
      }
      // A failed COMMIT (serialization failure, a deferred constraint, a dropped connection)
      // rejects: the caller must not believe the change was made.
      await client.query('COMMIT');
      return result;
    } catch (err) {
      broken ??= isConnectionError(err) ? (err as Error) : undefined;
      throw scrub(err);
    } finally {
      state.open = false;
      client.off('error', onDrop);
      // A client whose connection failed is destroyed rather than handed to the next request.
      client.release(broken ?? false);
    }
  }

  const listener = createListener(
    { ...clientConfig, application_name: `${appName}-listen` },
    options.reconnectMs,
    (err) => onError(scrub(err) as Error),
  );

  return {
    kind: 'postgres',
    dialect: PG_DIALECT,
    get: async <T>(sql: string, params?: SqlParams) => (await query(sql, params)).rows[0] as T | undefined,
    all: async <T>(sql: string, params?: SqlParams) => (await query(sql, params)).rows as T[],
    run: async (sql: string, params?: SqlParams) => ({ changes: (await query(sql, params)).rowCount ?? 0 }),
    transaction,
    async notify(channel: string) {
      await query("SELECT pg_notify(?, '')", [channel]);
    },
    async listen(channel: string, onNotice: () => void) {
      try {
        return await listener.add(channel, onNotice);
      } catch (err) {
        throw scrub(err);
      }
    },
    async exec(script: string) {
      try {
        await clientFor().query(script);
      } catch (err) {
        throw scrub(err);
      }
    },
    async close() {
      await listener.close();
      await pool.end();
    },
  };
}

/** Errors that mean the connection itself is gone (as opposed to an SQL error on a live one). */
function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^(08|57P0)/.test(code)) return true;
  return /Connection terminated|ECONNRESET|EPIPE|not queryable/i.test(err.message);
}
