// The one door to the database. Every repository speaks SQL through `Sql`, written once in the
// subset both engines understand (docs/storage.md, "One SQL for two engines"):
//   - placeholders are `?` (positional, params as an array) or `@name` (params as an object);
//   - upserts are `INSERT … ON CONFLICT (…) DO NOTHING | DO UPDATE SET … = excluded.…`;
//   - generated ids come back through `RETURNING id`;
//   - no engine-specific functions: the few differences are in `dialect`.
// Statements issued while `transaction(fn)` runs (awaited from inside fn) belong to that
// transaction; the engine tracks this with AsyncLocalStorage, so repositories do not pass a
// transaction handle around. A transaction started inside another joins it.
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import type { Db } from './db.js';

export type SqlValue = string | number | bigint | null | Uint8Array;
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;

export interface SqlDialect {
  /** Appended to a SELECT that reads rows the transaction will then change (PostgreSQL row lock). */
  readonly forUpdate: string;
  /** An expression reading the text value of top-level `key` from a JSON text column. */
  jsonText(column: string, key: string): string;
}

export interface Sql {
  readonly kind: 'sqlite' | 'postgres';
  readonly dialect: SqlDialect;
  get<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T | undefined>;
  all<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T[]>;
  run(sql: string, params?: SqlParams): Promise<{ changes: number }>;
  /** Runs fn in one write transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Wakes every `listen(channel)` on this database, in every process that has it open (PostgreSQL
   * NOTIFY; within the one process for SQLite). Inside a transaction it is sent at commit, and not
   * at all on rollback, so a listener never looks before the change is visible.
   */
  notify(channel: string): Promise<void>;
  /** Calls onNotice after each notify on channel; the returned function stops listening. */
  listen(channel: string, onNotice: () => void): Promise<() => Promise<void>>;
  /** Runs a script of several statements (migrations). */
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A text parameter holding a NUL character. PostgreSQL cannot store or compare one (the statement
 * fails) while SQLite would: both engines refuse it before the database sees it, so both answer
 * the same. It reads as a client error to the app's error handler and to oidc-provider's (which
 * shows `message` as the error code), so a NUL sent in any field is a 400 invalid_request, never a 500.
 */
export class SqlTextError extends Error {
  readonly expose = true;
  readonly status = 400;
  readonly statusCode = 400;
  readonly error = 'invalid_request';
  readonly error_description = 'a value contains a NUL character';
  constructor() {
    super('invalid_request');
    this.name = 'SqlTextError';
  }
}

/** Throws SqlTextError when a string among `params` holds a NUL character. */
export function refuseNul(params: SqlParams | undefined): void {
  if (params === undefined) return;
  const values = Array.isArray(params) ? params : Object.values(params);
  for (const value of values) {
    if (typeof value === 'string' && value.includes('\0')) throw new SqlTextError();
  }
}

const SQLITE_DIALECT: SqlDialect = {
  forUpdate: '',
  jsonText: (column, key) => `json_extract(${column}, '$.${key}')`,
};

// The lock is per database file and shared by every engine of this process on that file. Two
// connections to one file in one process (a second node in the tests) would otherwise meet in
// SQLite's busy handler, which blocks the very thread the connection holding the transaction needs
// in order to finish it (a token request's transaction spans the signature of its access token:
// src/app/token_transaction.ts).
const fileLocks = new Map<string, { current: Promise<void> | undefined }>();

function lockFor(db: Db): { current: Promise<void> | undefined } {
  if (db.memory) return { current: undefined };
  let held = fileLocks.get(db.name);
  if (!held) {
    held = { current: undefined };
    fileLocks.set(db.name, held);
  }
  return held;
}

/**
 * better-sqlite3 is synchronous and one connection serves the whole process, so a transaction
 * that awaits would otherwise let another request's statements run inside it. The engine holds a
 * lock for the length of each transaction: statements from outside it wait until it ends, the
 * transaction's own statements (recognised through AsyncLocalStorage) run at once. With no
 * transaction open, a statement runs synchronously and its promise is already settled.
 */
export function sqliteEngine(db: Db): Sql & { readonly db: Db } {
  const statements = new Map<string, ReturnType<Db['prepare']>>();
  // The store outlives the transaction in callbacks created inside it (a timer, a promise settled
  // later), so it records whether the transaction is still open: after the end such a callback's
  // statements are outside statements again.
  const context = new AsyncLocalStorage<{ open: boolean; pending: Set<string> }>();
  const current = () => {
    const tx = context.getStore();
    return tx?.open ? tx : undefined;
  };
  const notices = new EventEmitter();
  notices.setMaxListeners(0);
  const lock = lockFor(db);

  const prepare = (sql: string) => {
    let stmt = statements.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      statements.set(sql, stmt);
    }
    return stmt;
  };
  // better-sqlite3 takes positional values as one array and named ones as one object.
  const bind = (params: SqlParams | undefined) => {
    refuseNul(params);
    return (params ?? []) as unknown[];
  };

  // The check for the lock and the work after it run in one synchronous stretch, so no transaction
  // can begin between them.
  async function afterLock<T>(work: () => T): Promise<T> {
    while (lock.current && !current()) await lock.current;
    return work();
  }
  function now<T>(work: () => T): Promise<T> {
    if (lock.current && !current()) return afterLock(work);
    try {
      return Promise.resolve(work());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  return {
    kind: 'sqlite',
    dialect: SQLITE_DIALECT,
    db,
    get: <T>(sql: string, params?: SqlParams) => now(() => prepare(sql).get(bind(params)) as T | undefined),
    all: <T>(sql: string, params?: SqlParams) => now(() => prepare(sql).all(bind(params)) as T[]),
    run: (sql: string, params?: SqlParams) => now(() => ({ changes: prepare(sql).run(bind(params)).changes })),
    async transaction<T>(fn: () => Promise<T>): Promise<T> {
      if (current()) return fn();
      while (lock.current) await lock.current;
      let release!: () => void;
      lock.current = new Promise<void>((resolve) => {
        release = resolve;
      });
      const tx = { open: true, pending: new Set<string>() };
      try {
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = await context.run(tx, fn);
          tx.open = false;
          db.exec('COMMIT');
          for (const channel of tx.pending) notices.emit(channel);
          return result;
        } catch (err) {
          tx.open = false;
          if (db.inTransaction) db.exec('ROLLBACK');
          throw err;
        }
      } finally {
        lock.current = undefined;
        release();
      }
    },
    async notify(channel: string) {
      const tx = current();
      if (tx) tx.pending.add(channel);
      else notices.emit(channel);
    },
    async listen(channel: string, onNotice: () => void) {
      notices.on(channel, onNotice);
      return async () => {
        notices.off(channel, onNotice);
      };
    },
    exec: (script: string) => now(() => void db.exec(script)),
    close: () => afterLock(() => void db.close()),
  };
}
