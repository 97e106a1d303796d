import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** Opens (creating if needed) the SQLite file: WAL, foreign keys on, owner-only permissions. */
export function openDatabase(file: string): Db {
  if (file !== ':memory:') {
    const dir = path.dirname(file);
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  const db = new Database(file);
  if (file !== ':memory:') chmodSync(file, 0o600);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // Speed without touching durability (BENCHMARKS.md, "Scale"): a 64 MiB page cache per connection
  // (SQLite's default is 2 MB) keeps the B-tree interior pages of a large database in memory
  // instead of re-reading them through the OS; temporary tables and sort spills stay in memory.
  // Not mmap_size: an I/O error on a memory-mapped page kills the process with SIGBUS instead of
  // failing one statement.
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
  return db;
}
