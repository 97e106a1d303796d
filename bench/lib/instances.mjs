// Authorization-server instances for the scenarios: a temp data dir prepared through the server's
// own repositories (user, MCP servers, admin token, resource credential), then the server in its
// own process, then an agent registered over HTTP like any other.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { benchPostgres, createBenchDatabase } from './bench_database.mjs';
import { asEnv } from './env.mjs';
import { registerClient } from './oauth.mjs';
import { distImport, freePort, startChild } from './proc.mjs';

/** Data dirs of running instances, removed by removeDataDirs() if the run is interrupted. */
const dataDirs = new Set();

export function removeDataDirs() {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  dataDirs.clear();
}

export const USERNAME = 'bench';
export const PASSWORD = 'bench-password-1';

export const SCOPES = [
  { scope: 'mcp:read', description: 'Read data and list tools', isDefault: true, isWrite: false },
  { scope: 'mcp:write', description: 'Change data and call tools that write', isDefault: false, isWrite: true },
];

/**
 * Opens and migrates the instance's storage with the server's own code (its PostgreSQL database
 * when given one: ./postgres.mjs); the caller closes it.
 */
export async function openStorageAt(dataDir, databaseUrl) {
  const { openStorage } = await distImport('src/storage/open.js');
  const { migrate } = await distImport('src/storage/migrate.js');
  const sql = await openStorage({ databaseFile: path.join(dataDir, 'mcp-oauth.sqlite'), databaseUrl });
  try {
    await migrate(sql);
  } catch (err) {
    await sql.close();
    throw err;
  }
  return sql;
}

/**
 * The raw SQLite handle of a migrated instance database, for the bulk seed (seed.mjs), which is
 * SQLite-only (pragmas, recursive CTEs generating rows); the caller closes it.
 */
export async function openDb(dataDir) {
  return (await openStorageAt(dataDir)).db;
}

async function prepare(dataDir, resources, databaseUrl) {
  const { hashPassword } = await distImport('src/lib/passwords.js');
  const { createUserRepository } = await distImport('src/storage/users.js');
  const { createResourceRepository } = await distImport('src/storage/resources.js');
  const { createResourceCredentialRepository } = await distImport('src/storage/resource_credentials.js');
  const { createAdminTokenRepository } = await distImport('src/storage/admin_tokens.js');
  const password = await hashPassword(PASSWORD);
  const sql = await openStorageAt(dataDir, databaseUrl);
  try {
    await createUserRepository(sql).create(USERNAME, password, true);
    const repo = createResourceRepository(sql);
    for (const uri of resources) await repo.create(uri, `Bench ${uri}`, SCOPES);
    const first = await repo.findByUri(resources[0]);
    const credential = await createResourceCredentialRepository(sql).create(first.id, { replace: true });
    const { token: adminToken } = await createAdminTokenRepository(sql).create(
      'bench',
      null,
      Math.floor(Date.now() / 1000),
    );
    return { credential, adminToken };
  } finally {
    await sql.close();
  }
}

/**
 * Starts our authorization server on a fresh data dir. opts: { resources, execArgv, env }.
 * The instance can be stopped and started again on the same data (restart()).
 */
export async function startAs(opts = {}) {
  const resources = opts.resources ?? ['http://127.0.0.1:9/mcp'];
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-bench-'));
  dataDirs.add(dataDir);
  const port = await freePort();
  const server = benchPostgres();
  const database = server ? await createBenchDatabase(server) : undefined;
  const secrets = await prepare(dataDir, resources, database?.url);
  const env = { ...asEnv({ port, dataDir }), ...(database && { MCP_OAUTH_DATABASE_URL: database.url }), ...opts.env };
  const spawn = () => startChild('as_server.mjs', { env, execArgv: opts.execArgv ?? [] });
  let child = await spawn();
  const url = child.info.url;
  const client = await registerClient(url);
  return {
    url,
    port,
    dataDir,
    resource: resources[0],
    resources,
    clientId: client.client_id,
    ...secrets,
    get pid() {
      return child.pid;
    },
    rss: () => child.rss(),
    /** Stops the server process, keeping its data (for work on the database alone). */
    async pause() {
      await child.stop();
    },
    /** Starts the server again on the same data and port. */
    async resume() {
      child = await spawn();
    },
    async stop() {
      await child.stop();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
      dataDirs.delete(dataDir);
    },
  };
}

/**
 * The bare oidc-provider baseline on its own port: its in-memory adapter, or with `durable` a
 * minimal SQLite adapter on a file in a temp dir (durable_adapter.mjs).
 */
export async function startBaselineProvider({
  resource = 'http://127.0.0.1:9/mcp',
  execArgv = [],
  durable = false,
} = {}) {
  const port = await freePort();
  const dataDir = durable ? mkdtempSync(path.join(tmpdir(), 'mcp-oauth-bench-baseline-')) : undefined;
  if (dataDir) dataDirs.add(dataDir);
  const child = await startChild('baseline_provider.mjs', {
    env: {
      BENCH_PORT: String(port),
      BENCH_RESOURCE: resource,
      BENCH_CLIENT_ID: 'bench-agent',
      ...(dataDir && { BENCH_BASELINE_DB: path.join(dataDir, 'baseline.sqlite') }),
    },
    execArgv,
  });
  return {
    url: child.info.url,
    pid: child.pid,
    resource,
    clientId: 'bench-agent',
    rss: () => child.rss(),
    async stop() {
      await child.stop();
      if (dataDir) {
        rmSync(dataDir, { recursive: true, force: true });
        dataDirs.delete(dataDir);
      }
    },
  };
}
