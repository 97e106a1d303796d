// Builds the real authorization server on a temporary database (test/support/storage.ts picks the
// engine) and serves it over real HTTP on 127.0.0.1. Every test file gets its own server and database.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type App, buildApp } from '../../src/app/app.js';
import { type Config, loadConfig } from '../../src/config/index.js';
import { hashPassword } from '../../src/lib/passwords.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import type { Sql } from '../../src/storage/engine.js';
import { createResourceRepository, type ResourceScope } from '../../src/storage/resources.js';
import { createUserRepository, type User } from '../../src/storage/users.js';
import { databaseEnv, openTestStorage } from './storage.js';

export const DEFAULT_SCOPES: ResourceScope[] = [
  { scope: 'mcp:read', description: 'Read data and list tools', isDefault: true, isWrite: false },
  { scope: 'mcp:write', description: 'Change data and call tools that write', isDefault: false, isWrite: true },
];

export interface TestServer {
  url: string;
  config: Config;
  /** The server's database: tests read and write through it, never through an engine's raw handle. */
  sql: Sql;
  app: App;
  dataDir: string;
  addUser(username: string, password: string, opts?: { admin?: boolean }): Promise<User>;
  addResource(uri: string, name: string, scopes?: ResourceScope[]): Promise<void>;
  close(): Promise<void>;
}

export async function startTestServer(
  env: Record<string, string> = {},
  opts: { logger?: Logger; now?: () => number } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-test-'));
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const storage = await openTestStorage(dataDir);
  const config = loadConfig({
    MCP_OAUTH_PORT: String(port),
    MCP_OAUTH_DATA_DIR: dataDir,
    ...databaseEnv(dataDir),
    // Suites start hundreds of authorizations from 127.0.0.1 within a minute; the tests of this
    // limit (test/hardening/throttle.test.ts, test/security/path_variants.test.ts) set it.
    MCP_OAUTH_RATE_LIMIT_AUTHORIZE: '0',
    ...env,
  });
  const { sql } = storage;
  const app = await buildApp(config, sql, opts.logger ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'), {
    now: opts.now,
  });
  server.on('request', app.handler);
  const users = createUserRepository(sql);
  const resources = createResourceRepository(sql);
  return {
    url: `http://127.0.0.1:${port}`,
    config,
    sql,
    app,
    dataDir,
    async addUser(username, password, opts = {}) {
      return await users.create(username, await hashPassword(password), opts.admin ?? false);
    },
    async addResource(uri, name, scopes = DEFAULT_SCOPES) {
      await resources.create(uri, name, scopes);
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await app.feedHub.close();
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
