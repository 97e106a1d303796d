import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.js';

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
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
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

/**
 * Applies pending migrations in order, each in its own transaction. Refuses to start when an
 * applied migration was edited (checksum changed) or is unknown to this build (a newer version ran).
 */
export function migrate(db: Db, dir?: string): { applied: string[] } {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL
  ) STRICT`);
  const files = readMigrations(dir);
  const known = new Map(files.map((f) => [f.version, f]));
  const rows = db.prepare('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all() as {
    version: number;
    name: string;
    checksum: string;
  }[];
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
  const record = db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)');
  for (const file of files) {
    if (done.has(file.version)) continue;
    db.transaction(() => {
      db.exec(file.sql);
      record.run(file.version, file.name, file.checksum, Math.floor(Date.now() / 1000));
    })();
    applied.push(`${String(file.version).padStart(4, '0')}_${file.name}`);
  }
  return { applied };
}
