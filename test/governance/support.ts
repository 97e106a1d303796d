// A second server process on the first one's database: its own connection, its own app and
// its own HTTP listener, the same configuration (so the same issuer), as a second node behind a load
// balancer would be.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../src/app/app.js';
import { createLogger } from '../../src/log/logger.js';
import type { TestServer } from '../support/app.js';
import { openTestStorage } from '../support/storage.js';

export interface SecondNode {
  url: string;
  close(): Promise<void>;
}

export async function startSecondNode(first: TestServer, now?: () => number): Promise<SecondNode> {
  const storage = await openTestStorage(first.dataDir, { migrate: false });
  const app = await buildApp(first.config, storage.sql, createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'), { now });
  const server = createServer(app.handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await storage.close();
    },
  };
}
