import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sql } from './engine.js';

export class MigrationError extends Error {
  override name = 'MigrationError';
}

interface MigrationFile {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function readMigrations(dir: string = migrationsDir()): MigrationFile[] {
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((f) => f.isFile() && f.name.endsWith('.sql'))
    .map((f) => f.name)
    .sort();
  return files.map((file) => {
    const match = FILE_NAME.exec(file);
    if (!match) throw new MigrationError(`migration file ${file} does not match NNNN_name.sql`);
    const sql = readFileSync(path.join(dir, file), 'utf8');
    return {
      version: Number(match[1]),
      name: match[2] ?? file,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    };
  });
}

/** Finds migrations/ both from src/ (tsx, vitest) and from dist/src/ (built). */
export function migrationsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const candidate = path.resolve(here, up, 'migrations');
    try {
      readdirSync(candidate);
      return candidate;
    } catch {
      // try the next location
    }
  }
  throw new MigrationError('migrations directory not found');
}

/** Both engines' migrations: `migrations/*.sql` for SQLite, `migrations/postgres/*.sql` for PostgreSQL. */
export function migrationsFor(kind: Sql['kind']): string {
  return kind === 'sqlite' ? migrationsDir() : path.join(migrationsDir(), 'postgres');
}

const SCHEMA_TABLE = {
  sqlite: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL
  ) STRICT`,
  postgres: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL
  )`,
};

/** Any fixed number: the key of the PostgreSQL advisory lock that lets one node migrate at a time. */
const MIGRATION_LOCK = 4_177_310_001;

/**
 * Applies pending migrations in order. Refuses to start when an applied migration was edited
 * (checksum changed) or is unknown to this build (a newer release ran). On PostgreSQL every node
 * runs this at start: the whole run is one transaction holding an advisory lock, so the first node
 * migrates and the others wait, then find nothing left to do.
 */
export async function migrate(sql: Sql, dir: string = migrationsFor(sql.kind)): Promise<{ applied: string[] }> {
  if (sql.kind === 'postgres') {
    return sql.transaction(async () => {
      await sql.get('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
      return applyPending(sql, dir, (work) => work());
    });
  }
  return applyPending(sql, dir, (work) => sql.transaction(work));
}

async function applyPending(
  sql: Sql,
  dir: string,
  inTransaction: (work: () => Promise<void>) => Promise<void>,
): Promise<{ applied: string[] }> {
  await sql.exec(SCHEMA_TABLE[sql.kind]);
  const files = readMigrations(dir);
  const known = new Map(files.map((f) => [f.version, f]));
  const rows = await sql.all<{ version: number; name: string; checksum: string }>(
    'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
  );
  for (const row of rows) {
    const file = known.get(row.version);
    if (!file) {
      throw new MigrationError(
        `database has migration ${row.version}_${row.name} that this version does not know; it was written by a newer release`,
      );
    }
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `migration ${String(row.version).padStart(4, '0')}_${row.name}.sql was edited after it was applied (checksum mismatch); restore the original file`,
      );
    }
  }
  const done = new Set(rows.map((r) => r.version));
  const applied: string[] = [];
  for (const file of files) {
    if (done.has(file.version)) continue;
    await inTransaction(async () => {
      await sql.exec(file.sql);
      await sql.run('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)', [
        file.version,
        file.name,
        file.checksum,
        Math.floor(Date.now() / 1000),
      ]);
    });
    applied.push(`${String(file.version).padStart(4, '0')}_${file.name}`);
  }
  return { applied };
}
