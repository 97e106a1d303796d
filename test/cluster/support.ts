// Several `mcp-oauth serve` processes as one authorization server: one PostgreSQL database, the
// same issuer (nginx's address), round-robin nginx in front (test/support/nginx.ts), and the
// resource proxy in front of an MCP server built with the SDK, following the revocation feed of
// node 1 only. The nodes are started all at once, as an orchestrator starts replicas: they race
// on the first signing key and the generated secrets.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { epochSeconds } from '../../src/lib/duration.js';
import { hashPassword } from '../../src/lib/passwords.js';
import { type ProxyConfig, proxyConfig, type RunningProxy, startProxy } from '../../src/proxy/index.js';
import { createAdminTokenRepository } from '../../src/storage/admin_tokens.js';
import type { Sql } from '../../src/storage/engine.js';
import { postgresEngine } from '../../src/storage/engine_pg.js';
import { createResourceCredentialRepository } from '../../src/storage/resource_credentials.js';
import { createResourceRepository } from '../../src/storage/resources.js';
import { createUserRepository } from '../../src/storage/users.js';
import { type ChildServer, freePorts, spawnServer } from '../hardening/support/child_server.js';
import { startUpstream, type Upstream } from '../proxy/helpers.js';
import { DEFAULT_SCOPES } from '../support/app.js';
import { type LoadBalancer, startLoadBalancer } from '../support/nginx.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

export const PASSWORD = 'correct horse battery staple';

export interface Cluster {
  /** nginx's origin: the issuer every node states. */
  issuer: string;
  lb: LoadBalancer;
  nodes: ChildServer[];
  database: TestDatabase;
  /** The test's own connection to the cluster's database. */
  sql: Sql;
  adminToken: string;
  /** The MCP server's public URI: the proxy's /mcp. */
  resource: string;
  upstream: Upstream;
  proxy: RunningProxy;
  proxyConfig: ProxyConfig;
  /** Which node answered each request through the balancer, as `127.0.0.1:<port>`. */
  nodeAddress(i: number): string;
  close(): Promise<void>;
}

export async function startCluster(opts: { nodes?: number; env?: Record<string, string> } = {}): Promise<Cluster> {
  const count = opts.nodes ?? 3;
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const database = await createTestDatabase();
    closers.push(() => database.drop());
    const sql = postgresEngine({ url: database.url, poolSize: 2 });
    closers.push(() => sql.close());
    // The proxy's, the balancer's and the nodes' ports, told apart (a node given the balancer's port
    // would answer in its place, and the test would reach one node without knowing it).
    const [proxyPort, lbPort, ...ports] = await freePorts(count + 2);
    const resource = `http://127.0.0.1:${proxyPort}/mcp`;
    const alice = await createUserRepository(sql).create('alice', await hashPassword(PASSWORD), true);
    const registered = await createResourceRepository(sql).create(resource, 'Notes MCP', DEFAULT_SCOPES);
    const feed = await createResourceCredentialRepository(sql).create(registered.id, { replace: false });
    const { token: adminToken } = await createAdminTokenRepository(sql).create('cluster', alice.id, epochSeconds());

    const issuer = `http://127.0.0.1:${lbPort}`;
    const nodes = await Promise.all(
      ports.map((port) => {
        const dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-node-'));
        closers.push(async () => rmSync(dataDir, { recursive: true, force: true }));
        return spawnServer(dataDir, port, {
          MCP_OAUTH_HOST: '127.0.0.1',
          MCP_OAUTH_ISSUER: issuer,
          MCP_OAUTH_DATABASE_URL: database.url,
          MCP_OAUTH_RATE_LIMIT_AUTHORIZE: '0',
          ...opts.env,
        });
      }),
    );
    for (const node of nodes) {
      closers.push(async () => {
        if (node.proc.exitCode === null && node.proc.signalCode === null) node.proc.kill('SIGTERM');
        await node.exited;
      });
    }
    const lb = await startLoadBalancer(
      nodes.map((n) => `127.0.0.1:${n.port}`),
      { port: lbPort },
    );
    closers.push(() => lb.close());
    const upstream = await startUpstream();
    closers.push(() => upstream.close());
    const config = proxyConfig({
      issuer,
      // The proxy reads metadata, keys and the revocation feed from node 1 alone.
      authorizationServerUrl: nodes[0]?.url ?? issuer,
      feed,
      routes: [{ resource, upstream: upstream.url }],
      logLevel: (process.env.TEST_LOG_LEVEL ?? 'silent') as ProxyConfig['logLevel'],
      port: proxyPort,
    });
    const proxy = await startProxy(config);
    closers.push(() => proxy.close());
    return {
      issuer,
      lb,
      nodes,
      database,
      sql,
      adminToken,
      resource,
      upstream,
      proxy,
      proxyConfig: config,
      nodeAddress: (i) => `127.0.0.1:${nodes[i]?.port}`,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
