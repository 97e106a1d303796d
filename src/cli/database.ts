import { type Config, loadConfig } from '../config/index.js';
import { type Db, openDatabase } from '../storage/db.js';
import { migrate } from '../storage/migrate.js';
import type { CliIo } from './io.js';

export interface CommandContext {
  config: Config;
  db: Db;
  /** Migrations this run applied (every command migrates first). */
  applied: string[];
}

/** Loads the configuration, opens and migrates the database, runs `fn`, and always closes it. */
export async function withDatabase<T>(io: CliIo, fn: (ctx: CommandContext) => T | Promise<T>): Promise<T> {
  const config = loadConfig(io.env);
  const db = openDatabase(config.databaseFile);
  try {
    const { applied } = migrate(db);
    return await fn({ config, db, applied });
  } finally {
    db.close();
  }
}
