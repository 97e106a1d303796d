// A throwaway PostgreSQL cluster for the tests: ONE per test run, started only when a test asks for
// it, stopped and removed at the end.
//
// vitest.config.ts loads postgres_cluster.ts as a globalSetup. The setup itself starts no cluster: it serves
// one loopback endpoint, and the first test file that calls `postgresForTests()` (the engine tests,
// the `db copy` test, or every test server when MCP_OAUTH_TEST_ENGINE=postgres) makes it start the
// cluster: initdb in a temp dir (as the unprivileged user `nobody` when the run is root, since
// initdb refuses root), listening on 127.0.0.1 on a free port and on a socket in the temp dir,
// trust authentication (nothing but loopback reaches it), fsync off. A template database with
// every migration applied makes `createTestDatabase()` a cheap CREATE DATABASE … TEMPLATE.
//
// Where the cluster cannot start (no PostgreSQL installed), a test that needs it fails with the
// reason when CI=true and is skipped, with the reason in its name, elsewhere.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { Sql } from '../../src/storage/engine.js';
import { postgresEngine } from '../../src/storage/engine_pg.js';
import { PROVIDED, TEMPLATE } from './postgres_cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mcpOauthPostgresControl: string;
  }
}

/** What a test gets: the cluster's admin URL, or why there is none. */
export type PostgresCluster = { url: string; reason?: undefined } | { url?: undefined; reason: string };

/** The engine the test servers run on: MCP_OAUTH_TEST_ENGINE=postgres, else SQLite. */
export function testEngine(): 'sqlite' | 'postgres' {
  return process.env.MCP_OAUTH_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite';
}

// ---- in the test files --------------------------------------------------------------------------

let asked: Promise<PostgresCluster> | undefined;

/**
 * The run's cluster (started on the first call of the run). Without it: in CI this throws the
 * reason (a test that needs PostgreSQL fails there, never skips silently); elsewhere it returns the
 * reason, for `describe.skipIf(!pg.url)(\`… (skipped: ${pg.reason})\`, …)`.
 */
export function postgresForTests(): Promise<PostgresCluster> {
  asked ??= (async (): Promise<PostgresCluster> => {
    let answer: PostgresCluster;
    try {
      const res = await fetch(inject(PROVIDED), { method: 'POST' });
      answer = (await res.json()) as PostgresCluster;
    } catch (err) {
      answer = { reason: `the PostgreSQL test setup did not answer: ${(err as Error).message}` };
    }
    if (answer.reason !== undefined) {
      if (process.env.CI === 'true') {
        throw new Error(`PostgreSQL is required in CI but the test cluster could not start: ${answer.reason}`);
      }
      // The reporter lists skipped tests without their names by default: say why, once per file.
      console.warn(`PostgreSQL tests SKIPPED in this file: ${answer.reason}`);
    }
    return answer;
  })();
  return asked;
}

async function clusterUrl(): Promise<string> {
  const cluster = await postgresForTests();
  if (cluster.url === undefined) throw new Error(`no PostgreSQL test cluster: ${cluster.reason}`);
  return cluster.url;
}

const withDatabase = (adminUrl: string, name: string) => {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: await clusterUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  /** postgres://… of the new database (for MCP_OAUTH_DATABASE_URL). */
  url: string;
  drop(): Promise<void>;
}

/** A fresh database, migrated (copied from the template) unless `empty`. */
export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `t_${randomBytes(8).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}${opts.empty ? '' : ` TEMPLATE ${TEMPLATE}`}`));
  return {
    url: withDatabase(await clusterUrl(), name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/**
 * The PostgreSQL half of the tests' engine choice: a fresh migrated database and an engine on it;
 * close() closes the engine and drops the database.
 */
export async function openPostgresTestStorage(): Promise<{ sql: Sql; url: string; close(): Promise<void> }> {
  const database = await createTestDatabase();
  const sql = postgresEngine({ url: database.url, poolSize: 4 });
  return {
    sql,
    url: database.url,
    async close() {
      await sql.close();
      await database.drop();
    },
  };
}
