// Opens the configured storage engine: the SQLite file under the data directory (the embedded
// default). Every entry point (server, CLI, tests) comes through here, so the choice of engine has
// one home.
import type { Config } from '../config/index.js';
import { openDatabase } from './db.js';
import { type Sql, sqliteEngine } from './engine.js';

export async function openStorage(config: Pick<Config, 'databaseFile'>): Promise<Sql> {
  return sqliteEngine(openDatabase(config.databaseFile));
}
