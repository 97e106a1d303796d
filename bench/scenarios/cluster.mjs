// Scenario 9: revocation reach across a 3-node cluster. A throwaway PostgreSQL (lib/postgres.mjs),
// three server processes on it started at once (same issuer), the proxy following node 1's
// revocation feed, and every revocation made on node 3 through the admin API: the time from the
// revoke's answer to the proxy's first refusal is what LISTEN/NOTIFY between the nodes costs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { asEnv } from '../lib/env.mjs';
import { PASSWORD, SCOPES, USERNAME } from '../lib/instances.mjs';
import { authorize, CookieJar, registerClient } from '../lib/oauth.mjs';
import { postgresBin, startPostgres } from '../lib/postgres.mjs';
import { distImport, freePort, startChild } from '../lib/proc.mjs';
import { reach } from './proxy.mjs';

const ID = 'revocation_cluster';
const TITLE = 'Revocation reach, 3-node PostgreSQL cluster (revoke on node 3 → refusal at a proxy following node 1)';
const TARGET = { p99Ms: 250 };
const NODES = 3;

/** The schema, the bench user, the MCP server, the proxy's feed credential and an admin token. */
export async function seed(databaseUrl, resource) {
  const { openStorage } = await distImport('src/storage/open.js');
  const { migrate } = await distImport('src/storage/migrate.js');
  const { hashPassword } = await distImport('src/lib/passwords.js');
  const { createUserRepository } = await distImport('src/storage/users.js');
  const { createResourceRepository } = await distImport('src/storage/resources.js');
  const { createResourceCredentialRepository } = await distImport('src/storage/resource_credentials.js');
  const { createAdminTokenRepository } = await distImport('src/storage/admin_tokens.js');
  const sql = await openStorage({ databaseUrl, databaseFile: '' });
  try {
    await migrate(sql);
    await createUserRepository(sql).create(USERNAME, await hashPassword(PASSWORD), true);
    const created = await createResourceRepository(sql).create(resource, 'Bench cluster', SCOPES);
    const credential = await createResourceCredentialRepository(sql).create(created.id, { replace: true });
    const admin = await createAdminTokenRepository(sql).create('bench', null, Math.floor(Date.now() / 1000));
    return { credential, adminToken: admin.token };
  } finally {
    await sql.close();
  }
}

export async function clusterScenario(settings, { log }) {
  if (!postgresBin()) {
    const skipped = 'no PostgreSQL (set PG_BIN or install Debian postgresql)';
    log(`scenario ${ID} skipped: ${skipped}`);
    return { id: ID, title: TITLE, skipped, target: TARGET };
  }
  log(`scenario ${ID}: ${NODES} nodes on PostgreSQL`);
  const stops = [];
  const dirs = [];
  try {
    const pg = await startPostgres();
    stops.push(pg);
    const databaseUrl = pg.createDatabase('bench_cluster');
    const proxyPort = await freePort();
    const resource = `http://127.0.0.1:${proxyPort}/mcp`;
    const { credential, adminToken } = await seed(databaseUrl, resource);

    const ports = await Promise.all(Array.from({ length: NODES }, () => freePort()));
    const issuer = `http://127.0.0.1:${ports[0]}`;
    const nodes = await Promise.all(
      ports.map((port) => {
        const dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-bench-node-'));
        dirs.push(dataDir);
        return startChild('as_server.mjs', {
          env: { ...asEnv({ port, dataDir }), MCP_OAUTH_ISSUER: issuer, MCP_OAUTH_DATABASE_URL: databaseUrl },
        });
      }),
    );
    stops.push(...nodes);
    const upstream = await startChild('upstream.mjs', { env: { BENCH_PORT: String(await freePort()) } });
    stops.push(upstream);
    const proxy = await startChild('proxy_server.mjs', {
      env: {
        MCP_PROXY_HOST: '127.0.0.1',
        MCP_PROXY_PORT: String(proxyPort),
        MCP_PROXY_ISSUER: issuer,
        MCP_PROXY_AUTHORIZATION_SERVER_URL: nodes[0].info.url,
        MCP_PROXY_FEED_CLIENT_ID: credential.id,
        MCP_PROXY_FEED_CLIENT_SECRET: credential.secret,
        MCP_PROXY_RESOURCE: resource,
        MCP_PROXY_UPSTREAM: upstream.info.url,
        MCP_PROXY_LOG_LEVEL: 'warn',
      },
    });
    stops.push(proxy);

    const { client_id: clientId } = await registerClient(nodes[0].info.url);
    const jar = new CookieJar();
    // Signs in once; reach() then authorizes with the session.
    await authorize(nodes[0].info.url, { jar, clientId, resource, username: USERNAME, password: PASSWORD });
    const t = { as: { url: nodes[0].info.url, clientId, resource, adminToken }, jar, on: proxy.info };
    return await reach(settings, t, log, { id: ID, title: TITLE, target: TARGET, revokeUrl: nodes[2].info.url });
  } finally {
    for (const s of stops.reverse()) await s.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
