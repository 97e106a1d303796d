// Runs the CLI in-process against a temporary data directory, capturing its output.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach } from 'vitest';
import { runCli } from '../../src/cli/index.js';
import { type Db, openDatabase } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrate.js';

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-cli-'));
  dirs.push(dir);
  return dir;
}

export interface Cli {
  dataDir: string;
  env: Record<string, string | undefined>;
  /** Runs one command; `stdin` is what a pipe would deliver (nothing by default). */
  run(
    argv: string[],
    opts?: { stdin?: string | NodeJS.ReadableStream; env?: Record<string, string> },
  ): Promise<RunResult>;
  /** Opens (and migrates) the same database file the CLI uses; closes it when `fn` (or its promise) is done. */
  withDb<T>(fn: (db: Db) => T): T;
}

export function databaseFile(dataDir: string): string {
  return path.join(dataDir, 'mcp-oauth.sqlite');
}

/**
 * The CLI on `dataDir` as it is; with no directory, on a new one holding a migrated database, as
 * a server that ran once leaves it (most commands refuse a missing database: cliFor(tempDataDir())
 * is a directory with none).
 */
export function cliFor(dataDir?: string): Cli {
  if (dataDir === undefined) {
    dataDir = tempDataDir();
    const db = openDatabase(databaseFile(dataDir));
    migrate(db);
    db.close();
  }
  const env = { MCP_OAUTH_DATA_DIR: dataDir };
  return {
    dataDir,
    env,
    async run(argv, opts = {}) {
      let out = '';
      let err = '';
      const stdin =
        typeof opts.stdin === 'string' || opts.stdin === undefined ? Readable.from([opts.stdin ?? '']) : opts.stdin;
      const code = await runCli(argv, {
        env: { ...env, ...opts.env },
        stdin,
        stdout: {
          write: (s) => {
            out += s;
          },
        },
        stderr: {
          write: (s) => {
            err += s;
          },
        },
      });
      return { code, out, err };
    },
    withDb<T>(fn: (db: Db) => T): T {
      const db = openDatabase(databaseFile(dataDir));
      let result: T;
      try {
        migrate(db);
        result = fn(db);
      } catch (err) {
        db.close();
        throw err;
      }
      if (result instanceof Promise) return result.finally(() => db.close()) as T;
      db.close();
      return result;
    },
  };
}
