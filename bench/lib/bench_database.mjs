// The benchmark on PostgreSQL. BENCH_POSTGRES_URL names a PostgreSQL server through a user that
// may CREATE DATABASE (e.g. `postgres://postgres@127.0.0.1:5432/postgres` on a throwaway cluster);
// every authorization-server instance then gets a database of its own, created empty when the
// instance is prepared and dropped when it stops, and runs with MCP_OAUTH_DATABASE_URL pointing at
// it. Without the variable everything runs on SQLite files, as before. An environment variable, not
// an argument: a database URL may hold a password.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server to run on, or undefined for SQLite. */
export function benchPostgres() {
  return process.env.BENCH_POSTGRES_URL || undefined;
}

/** The engine the instances run on, as the report names it. */
export function benchEngine() {
  return benchPostgres() ? 'PostgreSQL' : 'SQLite';
}

async function admin(serverUrl, statement) {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A new empty database on the server: its URL, and `drop()` for when the instance stops. */
export async function createBenchDatabase(serverUrl) {
  // Letters and digits only: the name goes into the statement as an identifier.
  const name = `mcp_oauth_bench_${randomBytes(6).toString('hex')}`;
  await admin(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
