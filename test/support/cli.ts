// Runs the CLI in-process against a temporary data directory, capturing its output.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach } from 'vitest';
import { runCli } from '../../src/cli/index.js';
import type { Sql } from '../../src/storage/engine.js';
import { databaseEnv, databaseFile, openTestStorage } from './storage.js';

export { databaseFile };

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
  /** `env` once the directory's database exists (on PostgreSQL its URL is known only then). */
  environment(): Promise<Record<string, string | undefined>>;
  /** Runs one command; `stdin` is what a pipe would deliver (nothing by default). */
  run(
    argv: string[],
    opts?: { stdin?: string | NodeJS.ReadableStream; env?: Record<string, string> },
  ): Promise<RunResult>;
  /** Opens (and migrates) the same database the CLI uses; closes it when `fn` is done. */
  withSql<T>(fn: (sql: Sql) => T | Promise<T>): Promise<T>;
}

/**
 * The CLI on `dataDir` as it is; with no directory, on a new one holding a migrated database, as
 * a server that ran once leaves it (most commands refuse a missing database: cliFor(tempDataDir())
 * is a directory with none).
 */
export function cliFor(dataDir?: string): Cli {
  // Opening the storage is async, so the new database is made here and awaited by the first
  // command (or withSql); the catch marks it handled until then, and the await rethrows.
  let ready: Promise<void> = Promise.resolve();
  const env: Record<string, string> = {};
  if (dataDir === undefined) {
    dataDir = tempDataDir();
    const dir = dataDir;
    // On PostgreSQL the database outlives this opening (the run's cluster is removed at the end).
    ready = openTestStorage(dir)
      .then((storage) => (storage.sql.kind === 'sqlite' ? storage.close() : storage.sql.close()))
      .then(() => void Object.assign(env, databaseEnv(dir)));
    ready.catch(() => {});
  }
  const dirOf = dataDir;
  Object.assign(env, { MCP_OAUTH_DATA_DIR: dataDir, ...databaseEnv(dataDir) });
  return {
    dataDir,
    env,
    async environment() {
      await ready;
      return { ...databaseEnv(dirOf), ...env };
    },
    async run(argv, opts = {}) {
      await ready;
      let out = '';
      let err = '';
      const stdin =
        typeof opts.stdin === 'string' || opts.stdin === undefined ? Readable.from([opts.stdin ?? '']) : opts.stdin;
      const code = await runCli(argv, {
        // A database the test opened on the directory after cliFor (PostgreSQL) is found now.
        env: { ...databaseEnv(dirOf), ...env, ...opts.env },
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
    async withSql<T>(fn: (sql: Sql) => T | Promise<T>): Promise<T> {
      await ready;
      const storage = await openTestStorage(dirOf);
      try {
        return await fn(storage.sql);
      } finally {
        await storage.close();
      }
    },
  };
}
