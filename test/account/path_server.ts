// The real authorization server under an issuer with a path (ISSUER = origin + base), on a temp
// SQLite file over real HTTP, for the issuer-path tests (test/account, test/browser). The port is
// known before the configuration is read, since the issuer names it.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type App, buildApp } from '../../src/app/app.js';
import { loadConfig } from '../../src/config/index.js';
import { hashPassword } from '../../src/lib/passwords.js';
import { createLogger } from '../../src/log/logger.js';
import { PASSWORD, RESOURCE } from '../support/account.js';
import { DEFAULT_SCOPES } from '../support/app.js';
import { openTestStorage } from '../support/storage.js';

export interface PathServer {
  /** Where the process listens: http://127.0.0.1:PORT */
  origin: string;
  issuer: string;
  app: App;
  close(): Promise<void>;
}

/**
 * Starts the server with MCP_OAUTH_ISSUER = `issuerFor(origin)`, alice (and root, an admin) with
 * PASSWORD, and RESOURCE registered.
 */
export async function startPathServer(
  issuerFor: (origin: string) => string,
  env: Record<string, string> = {},
): Promise<PathServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-test-'));
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const issuer = issuerFor(origin);
  const config = loadConfig({
    MCP_OAUTH_PORT: String(port),
    MCP_OAUTH_DATA_DIR: dataDir,
    MCP_OAUTH_ISSUER: issuer,
    ...env,
  });
  const storage = await openTestStorage(dataDir);
  const app = await buildApp(config, storage.sql, createLogger('silent'));
  http.on('request', app.handler);
  await app.stores.users.create('alice', await hashPassword(PASSWORD), false);
  await app.stores.users.create('root', await hashPassword(PASSWORD), true);
  await app.stores.resources.create(RESOURCE, 'Orders DB', DEFAULT_SCOPES);
  return {
    origin,
    issuer,
    app,
    async close() {
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await closed;
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
