// GET /healthz: the process is up and answering (cheap; for liveness probes).
// GET /readyz: this instance can do its job (for readiness probes and the Docker healthcheck):
//   - the database accepts a real, committed write (one row rewritten in place: no growth),
//   - the provider holds a private key it can sign access tokens with,
//   - the database schema is exactly the one this build's migrations describe.
// Answers are tiny JSON documents with no detail an outsider could use: the cause of a failure
// goes to the log.
import type { Middleware } from 'koa';
import { epochSeconds } from '../lib/duration.js';
import type { Logger } from '../log/logger.js';
import type { Db } from '../storage/db.js';
import type { Sql } from '../storage/engine.js';
import { migrationsFor, readMigrations } from '../storage/migrate.js';
import { startReadOnly } from './read_only.js';

export const HEALTH_PATH = '/healthz';
export const READY_PATH = '/readyz';

// A probe must not stall the server for the full busy timeout of ordinary writes: a lock held this
// long already means the instance is not ready.
const PROBE_BUSY_TIMEOUT_MS = 1000;

export type CheckName = 'database' | 'signing_key' | 'migrations';
export type CheckResult = 'ok' | 'fail';

export interface HealthDeps {
  sql: Sql;
  log: Logger;
  /** True when the running provider was built with a key it can sign with. */
  signingKeyLoaded: () => boolean;
  /** Where the migrations this build expects are read from (tests); default: the bundled ones. */
  migrationsDir?: string;
}

export interface Readiness {
  ready: boolean;
  checks: Record<CheckName, CheckResult>;
}

/** Builds the readiness checker; the expected migrations are read once, at start. */
export function createReadiness(deps: HealthDeps): () => Promise<Readiness> {
  const { sql, log } = deps;
  // The engine's own migrations: PostgreSQL's schema is written in its own files.
  const expected = new Map(
    readMigrations(deps.migrationsDir ?? migrationsFor(sql.kind)).map((m) => [m.version, m.checksum]),
  );

  const write = async () => {
    await sql.run(
      `INSERT INTO health_check (id, checked_at) VALUES (1, ?)
       ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`,
      [epochSeconds()],
    );
  };
  const checkDatabase = async (): Promise<void> => {
    // SQLite: the probe's write waits at most PROBE_BUSY_TIMEOUT_MS for another process's lock.
    // Only this process's own open transaction can delay the write past the pragma; that
    // transaction already holds the write lock (BEGIN IMMEDIATE), so the short timeout never
    // reaches its statements.
    // PostgreSQL: the same bound as a lock timeout of the probe's own transaction, or a row or
    // table lock held by another session would hold the probe (and the prober) until it ends.
    if (sql.kind === 'postgres') {
      return sql.transaction(async () => {
        await sql.exec(`SET LOCAL lock_timeout = ${PROBE_BUSY_TIMEOUT_MS}`);
        await write();
      });
    }
    const db = 'db' in sql ? (sql as { db: Db }).db : undefined;
    if (!db) return write();
    const previous = db.pragma('busy_timeout', { simple: true }) as number;
    db.pragma(`busy_timeout = ${PROBE_BUSY_TIMEOUT_MS}`);
    try {
      await write();
    } finally {
      db.pragma(`busy_timeout = ${Number(previous) || 5000}`);
    }
  };

  const checkMigrations = async (): Promise<void> => {
    const rows = await sql.all<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations',
    );
    const current = rows.length === expected.size && rows.every((r) => expected.get(r.version) === r.checksum);
    if (!current) throw new Error(`schema has ${rows.length} migrations, this build expects ${expected.size}`);
  };

  const checkKey = async (): Promise<void> => {
    if (!deps.signingKeyLoaded()) throw new Error('no signing key loaded');
  };

  const run = async (name: CheckName, check: () => Promise<void>): Promise<CheckResult> => {
    try {
      await check();
      return 'ok';
    } catch (err) {
      log.warn({ err, check: name }, 'readiness check failed');
      return 'fail';
    }
  };

  return async () => {
    const checks = {
      database: await run('database', checkDatabase),
      signing_key: await run('signing_key', checkKey),
      migrations: await run('migrations', checkMigrations),
    };
    return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
  };
}

/** Answers /healthz and /readyz; placed first so no later middleware (throttling, CSRF) can refuse a probe. */
export function healthRoutes(readiness: () => Promise<Readiness>): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== HEALTH_PATH && ctx.path !== READY_PATH) return next();
    if (!startReadOnly(ctx)) return;
    if (ctx.path === HEALTH_PATH) {
      ctx.body = { status: 'ok' };
      return;
    }
    const { ready, checks } = await readiness();
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ok' : 'unavailable', checks };
  };
}
