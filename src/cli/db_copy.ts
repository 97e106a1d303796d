// `mcp-oauth db copy`: moves a SQLite deployment into PostgreSQL (docs/storage.md, "Moving to
// PostgreSQL"). The source is the SQLite file under MCP_OAUTH_DATA_DIR, the target the database
// MCP_OAUTH_DATABASE_URL (or its _FILE) names: never a URL on the command line, where process
// lists and shell history would keep its password.
//
// Both sides are migrated first, so they have the same schema. The target must hold no row at all.
// Every table is copied in foreign-key order inside ONE PostgreSQL transaction (and one SQLite
// transaction, so the source is one instant and no server writes meanwhile); identity sequences
// continue after the highest id (and after SQLite's AUTOINCREMENT high-water mark, so a revocation
// sequence number is never handed out twice); then each table's row count and checksum are
// compared on both sides before COMMIT. Any failure rolls the whole copy back: the target stays
// empty. Written against `Sql` only, so it does not depend on the repositories.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { openDatabase } from '../storage/db.js';
import { type Sql, type SqlValue, sqliteEngine } from '../storage/engine.js';
import { migrate } from '../storage/migrate.js';
import { describeDatabase, openStorage } from '../storage/open.js';
import { CliError, type CliIo, printLine, safe } from './io.js';

export function registerDbCommands(program: Command, io: CliIo): void {
  const db = program.command('db').description('move the database between engines (docs/storage.md)');
  db.command('copy')
    .description(
      'copy the SQLite database under MCP_OAUTH_DATA_DIR into the empty PostgreSQL database named by MCP_OAUTH_DATABASE_URL (or _FILE), then check it; stop the server first',
    )
    .action(() => copyCommand(io));
}

interface Table {
  name: string;
  columns: string[];
  /** Primary-key columns, for a stable read order. */
  key: string[];
  parents: string[];
}

const PAGE = 1000;
/** PostgreSQL takes at most 65535 parameters per statement. */
const MAX_PARAMS = 30_000;

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function copyCommand(io: CliIo): Promise<void> {
  const config = loadConfig(io.env);
  if (!config.databaseUrl) {
    throw new CliError(
      'set MCP_OAUTH_DATABASE_URL (or MCP_OAUTH_DATABASE_URL_FILE) to the PostgreSQL database to copy into',
    );
  }
  if (!existsSync(config.databaseFile)) {
    throw new CliError(`no SQLite database at ${safe(config.databaseFile)}: set MCP_OAUTH_DATA_DIR to the server's`);
  }
  const from = describeDatabase({ databaseFile: config.databaseFile });
  const to = describeDatabase(config);
  const source = sqliteEngine(openDatabase(config.databaseFile));
  try {
    const target = await openStorage(config);
    try {
      await migrate(source);
      await migrate(target).catch((err: Error) => {
        if (err.name === 'MigrationError') throw err;
        // The engine has already removed the password from the message.
        throw new CliError(`cannot prepare ${safe(to)}: ${err.message}`);
      });
      const tables = await readTables(source);
      const counts = await copyAll(source, target, tables);
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      for (const table of tables) printLine(io, `${table.name}: ${counts.get(table.name)} rows`);
      printLine(
        io,
        `copied ${total} rows in ${tables.length} tables from ${safe(from)} to ${safe(to)}; row counts and checksums match`,
      );
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * Every table of the SQLite schema, parents before the tables that reference them. Left out: the
 * migrations' own record, and settings_version, which each database keeps for itself (its triggers
 * give the target a new value as the copy writes the settings).
 */
async function readTables(source: Sql): Promise<Table[]> {
  const names = await source.all<{ name: string }>(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT IN ('schema_migrations', 'settings_version') ORDER BY name",
  );
  const tables = new Map<string, Table>();
  for (const { name } of names) {
    const columns = await source.all<{ name: string; pk: number }>('SELECT name, pk FROM pragma_table_info(?)', [name]);
    const parents = await source.all<{ parent: string }>(
      'SELECT DISTINCT "table" AS parent FROM pragma_foreign_key_list(?)',
      [name],
    );
    tables.set(name, {
      name,
      columns: columns.map((c) => c.name),
      key: columns
        .filter((c) => c.pk > 0)
        .sort((a, b) => a.pk - b.pk)
        .map((c) => c.name),
      parents: parents.map((p) => p.parent).filter((p) => p !== name),
    });
  }
  const ordered: Table[] = [];
  const placed = new Set<string>();
  const place = (table: Table, trail: string[]) => {
    if (placed.has(table.name)) return;
    if (trail.includes(table.name))
      throw new CliError(`foreign keys form a cycle: ${[...trail, table.name].join(' → ')}`);
    for (const parent of table.parents) {
      const p = tables.get(parent);
      if (p) place(p, [...trail, table.name]);
    }
    placed.add(table.name);
    ordered.push(table);
  };
  for (const table of tables.values()) place(table, []);
  return ordered;
}

async function copyAll(source: Sql, target: Sql, tables: Table[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  try {
    // The SQLite transaction keeps the source at one instant (and holds off a server that was
    // left running); the PostgreSQL one makes the copy all or nothing.
    await source.transaction(() =>
      target.transaction(async () => {
        await refuseRows(target, tables);
        for (const table of tables) counts.set(table.name, await copyTable(source, target, table));
        await continueIdentities(source, target);
        for (const table of tables) await compare(source, target, table);
      }),
    );
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`the copy failed and the target was left as it was: ${(err as Error).message}`);
  }
  return counts;
}

async function refuseRows(target: Sql, tables: Table[]): Promise<void> {
  const found: string[] = [];
  for (const table of tables) {
    const row = await target.get(`SELECT 1 AS found FROM ${quote(table.name)} LIMIT 1`);
    if (row) found.push(table.name);
  }
  if (found.length > 0) {
    throw new CliError(
      `the target database is not empty (rows in ${found.join(', ')}): copy only into a new, empty database`,
    );
  }
}

async function copyTable(source: Sql, target: Sql, table: Table): Promise<number> {
  const columns = table.columns.map(quote).join(', ');
  const perInsert = Math.max(1, Math.floor(MAX_PARAMS / table.columns.length));
  const one = `(${table.columns.map(() => '?').join(', ')})`;
  let copied = 0;
  let after = 0;
  for (;;) {
    // Every table here is a rowid table: paging by rowid reads each row once, in any size.
    const page = await source.all<Record<string, SqlValue>>(
      `SELECT rowid AS copy_rowid, ${columns} FROM ${quote(table.name)} WHERE rowid > ? ORDER BY rowid LIMIT ?`,
      [after, PAGE],
    );
    if (page.length === 0) return copied;
    for (let i = 0; i < page.length; i += perInsert) {
      const rows = page.slice(i, i + perInsert);
      await target.run(
        `INSERT INTO ${quote(table.name)} (${columns}) VALUES ${rows.map(() => one).join(', ')}`,
        rows.flatMap((row) => table.columns.map((c) => row[c] ?? null)),
      );
    }
    copied += page.length;
    after = Number(page[page.length - 1]?.copy_rowid);
  }
}

/** Identity columns continue after the copied ids and after SQLite's AUTOINCREMENT high-water mark. */
async function continueIdentities(source: Sql, target: Sql): Promise<void> {
  const identities = await target.all<{ table_name: string; column_name: string }>(
    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'",
  );
  for (const { table_name: table, column_name: column } of identities) {
    const highest = await target.get<{ n: number | null }>(`SELECT MAX(${quote(column)}) AS n FROM ${quote(table)}`);
    const sequence = await source
      .get<{ n: number }>('SELECT seq AS n FROM sqlite_sequence WHERE name = ?', [table])
      .catch(() => undefined); // no AUTOINCREMENT table at all: no sqlite_sequence
    const next = Math.max(highest?.n ?? 0, sequence?.n ?? 0) + 1;
    await target.get('SELECT setval(pg_get_serial_sequence(?, ?), ?, false) AS n', [quote(table), column, next]);
  }
}

/**
 * Row count and an order-independent checksum (the sum of each row's SHA-256, so the two engines'
 * different text orderings do not matter) must agree; otherwise the transaction rolls back.
 */
async function compare(source: Sql, target: Sql, table: Table): Promise<void> {
  const [a, b] = await Promise.all([digest(source, table), digest(target, table)]);
  if (a.count !== b.count || a.sum !== b.sum) {
    throw new CliError(
      `check failed for table ${table.name}: ${a.count} rows in SQLite, ${b.count} in PostgreSQL${a.count === b.count ? ', contents differ' : ''}; nothing was kept`,
    );
  }
}

async function digest(sql: Sql, table: Table): Promise<{ count: number; sum: bigint }> {
  const columns = table.columns.map(quote).join(', ');
  const order = (table.key.length > 0 ? table.key : table.columns).map(quote).join(', ');
  let count = 0;
  let sum = 0n;
  for (let offset = 0; ; offset += PAGE) {
    const rows = await sql.all<Record<string, unknown>>(
      `SELECT ${columns} FROM ${quote(table.name)} ORDER BY ${order} LIMIT ? OFFSET ?`,
      [PAGE, offset],
    );
    for (const row of rows) {
      const canonical = JSON.stringify(table.columns.map((c) => canonicalValue(row[c])));
      sum = (sum + createHash('sha256').update(canonical).digest().readBigUInt64BE(0)) & 0xffff_ffff_ffff_ffffn;
    }
    count += rows.length;
    if (rows.length < PAGE) return { count, sum };
  }
}

function canonicalValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value).toString('hex') };
  if (typeof value === 'number' || typeof value === 'bigint') return { n: String(value) };
  return { s: String(value) };
}
