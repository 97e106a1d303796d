import { existsSync } from 'node:fs';
import { type Config, loadConfig } from '../config/index.js';
import type { Sql } from '../storage/engine.js';
import { migrate } from '../storage/migrate.js';
import { describeDatabase, openStorage } from '../storage/open.js';
import { CliError, type CliIo, safe } from './io.js';

export interface CommandContext {
  config: Config;
  sql: Sql;
  /** Migrations this run applied (every command migrates first). */
  applied: string[];
}

/** Where MCP_OAUTH_DATA_DIR comes from, for messages that name the database. */
function dataDirHint(io: CliIo): string {
  return io.env.MCP_OAUTH_DATA_DIR === undefined
    ? 'MCP_OAUTH_DATA_DIR is not set, so it is ./data under the current directory'
    : 'from MCP_OAUTH_DATA_DIR';
}

/**
 * Loads the configuration, opens and migrates the existing database, runs `fn`, and always closes
 * it. A missing database is an error: run from the wrong directory, `./data` is not the server's
 * database, and a new empty one would answer "no users" or revoke nothing while looking like success.
 */
export function withDatabase<T>(io: CliIo, fn: (ctx: CommandContext) => T | Promise<T>): Promise<T> {
  return run(io, fn, false);
}

/**
 * The same for the commands that set something up (migrate, users add, resources add, ...): they
 * may start a new database, and say so on stderr with its full path.
 */
export function withNewDatabase<T>(io: CliIo, fn: (ctx: CommandContext) => T | Promise<T>): Promise<T> {
  return run(io, fn, true);
}

async function run<T>(io: CliIo, fn: (ctx: CommandContext) => T | Promise<T>, create: boolean): Promise<T> {
  const config = loadConfig(io.env);
  if (config.databaseUrl) return runOnPostgres(config, fn, create);
  const exists = existsSync(config.databaseFile);
  if (!exists && !create) {
    throw new CliError(
      `no database at ${safe(config.databaseFile)} (${dataDirHint(io)}): set MCP_OAUTH_DATA_DIR to the directory that holds the server's mcp-oauth.sqlite, or start a new one with: mcp-oauth migrate`,
    );
  }
  const sql = await openStorage(config);
  if (!exists)
    io.stderr.write(`mcp-oauth: created a new database at ${safe(config.databaseFile)} (${dataDirHint(io)})\n`);
  try {
    const { applied } = await migrate(sql);
    return await fn({ config, sql, applied });
  } finally {
    await sql.close();
  }
}

/**
 * On PostgreSQL the database always "exists"; what tells a server's database from an empty one is
 * the schema, so a command that must not start a new database refuses one without it.
 */
async function runOnPostgres<T>(
  config: Config,
  fn: (ctx: CommandContext) => T | Promise<T>,
  create: boolean,
): Promise<T> {
  const sql = await openStorage(config);
  try {
    if (!create) {
      const schema = await sql.get<{ n: number }>(
        "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'",
      );
      if (!schema?.n) {
        throw new CliError(
          `no mcp-oauth schema in ${describeDatabase(config)}: check MCP_OAUTH_DATABASE_URL, or start a new one with: mcp-oauth migrate`,
        );
      }
    }
    const { applied } = await migrate(sql);
    return await fn({ config, sql, applied });
  } finally {
    await sql.close();
  }
}
