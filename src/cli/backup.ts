// `mcp-oauth backup PATH`: a consistent copy of the database, safe while the server runs.
//
// SQLite's online backup API (better-sqlite3's db.backup) copies every page inside one read
// transaction: in WAL mode writers are not blocked, and the copy is the database as it was at one
// instant. The copy is written next to PATH under a temporary name, checked with
// PRAGMA integrity_check, switched to a single self-contained file (journal_mode=DELETE), and only
// then put in place: PATH is never left half-written. The copy holds the signing keys and cookie
// secrets, so it is created owner-only (0600).
import { closeSync, existsSync, linkSync, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { CliError, type CliIo, printLine, safe } from './io.js';

// One step copies everything: a step that restarts because the server wrote in between still
// finishes in that step, so a busy server cannot make the backup loop forever.
const ALL_PAGES = 0x7fffffff;

export function registerBackupCommand(program: Command, io: CliIo): void {
  program
    .command('backup')
    .description(
      'copy the database to PATH while the server runs (SQLite online backup), then check the copy; docs/operating.md "Backups" says how to restore',
    )
    .argument('<path>', 'file to write, e.g. /backups/mcp-oauth-2026-01-31.sqlite (its directory must exist)')
    .option('--force', 'replace PATH if it already exists')
    .action((target: string, opts: { force?: boolean }) => backup(io, target, opts));
}

function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Checks the copy and makes it one self-contained file; returns integrity_check's verdict. */
function verify(file: string): { ok: boolean; detail: string } {
  const copy = new Database(file, { fileMustExist: true });
  try {
    const rows = copy.pragma('integrity_check') as { integrity_check: string }[];
    const detail = rows.map((r) => r.integrity_check).join('; ');
    copy.pragma('journal_mode = DELETE');
    return { ok: detail === 'ok', detail };
  } finally {
    copy.close();
  }
}

async function backup(io: CliIo, target: string, opts: { force?: boolean }): Promise<void> {
  const config = loadConfig(io.env);
  // Without this, a PostgreSQL deployment would be told there is no database (the SQLite file).
  if (config.databaseUrl !== undefined) {
    throw new CliError('backup copies the SQLite database; on PostgreSQL use pg_dump (docs/storage.md)');
  }
  const source = config.databaseFile;
  const dest = path.resolve(target);
  if (dest === source || dest.startsWith(`${source}-`)) throw new CliError('PATH must not be the database itself');
  if (!existsSync(source)) throw new CliError(`no database at ${safe(source)} (check MCP_OAUTH_DATA_DIR)`);
  if (!existsSync(path.dirname(dest))) throw new CliError(`directory ${safe(path.dirname(dest))} does not exist`);
  if (existsSync(dest) && !opts.force) throw new CliError(`${safe(dest)} exists; pass --force to replace it`);

  const temp = path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.partial`);
  // Created empty and owner-only before SQLite writes a single page into it.
  closeSync(openSync(temp, 'wx', 0o600));
  try {
    // No migration and no pragma change: a backup must not alter the database it copies.
    const db = new Database(source, { fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      await db.backup(temp, { progress: () => ALL_PAGES });
    } finally {
      db.close();
    }
    const { ok, detail } = verify(temp);
    if (!ok) throw new CliError(`the copy failed its integrity check (${safe(detail)}); nothing was written to PATH`);
    const size = statSync(temp).size;
    if (opts.force) renameSync(temp, dest);
    else linkSync(temp, dest); // fails if PATH appeared meanwhile: never overwrite without --force
    printLine(io, `backed up ${safe(source)} to ${safe(dest)}`);
    printLine(io, `size: ${humanSize(size)} (${size} bytes)`);
    printLine(io, 'integrity check: ok');
  } finally {
    for (const leftover of [temp, `${temp}-journal`, `${temp}-wal`, `${temp}-shm`]) {
      try {
        unlinkSync(leftover);
      } catch {
        // already renamed or never created
      }
    }
  }
}
