// Scenario cluster_tokens (5b in BENCHMARKS.md): the token path of scenarios 1 and 2, with their load and their
// code (tokens.mjs), on ONE node against THREE nodes behind nginx round robin, in the same run on
// the same throwaway PostgreSQL (lib/postgres.mjs). One nginx process has two listeners: one in
// front of node 1 alone, one in front of all three, so both sides pay the same extra hop and the
// same database, and only the number of nodes differs. On a machine whose cores are already busy
// three nodes cannot be faster than one: what is reported is what spreading the requests costs
// (3 nodes / 1 node), with p50/p99, the servers' CPU per operation (all nodes summed) and
// PostgreSQL's (the postmaster and its backends).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { asEnv } from '../lib/env.mjs';
import { PASSWORD, USERNAME } from '../lib/instances.mjs';
import { alternate, ratios } from '../lib/measure.mjs';
import { NGINX, nginxAvailable, startNginxFronts } from '../lib/nginx.mjs';
import { registerClient } from '../lib/oauth.mjs';
import { postgresBin, startPostgres } from '../lib/postgres.mjs';
import { freePort, startChild } from '../lib/proc.mjs';
import { seed } from './cluster.mjs';
import { tokenTarget } from './tokens.mjs';

const ID = 'cluster_tokens';
const NODES = 3;
// The same MCP server as scenarios 1 and 2 (instances.mjs): nothing listens there, none is needed.
const RESOURCE = 'http://127.0.0.1:9/mcp';

const KINDS = [
  {
    id: 'cluster_tokens_refresh',
    title: 'Token refresh on PostgreSQL: 3 nodes behind nginx round robin vs 1 node behind the same nginx',
    unit: 'refreshes/s',
    job: 'refreshJob',
  },
  {
    id: 'cluster_tokens_code_flow',
    title: 'Code flow of a returning agent on PostgreSQL: 3 nodes behind nginx round robin vs 1 node',
    unit: 'flows/s',
    job: 'codeJob',
  },
];

const fmt = (x) => (typeof x === 'number' ? x.toFixed(2) : '-');

function whyNot() {
  if (!postgresBin()) return 'no PostgreSQL (set PG_BIN or install Debian postgresql)';
  if (!nginxAvailable()) return `no nginx at ${NGINX} (set NGINX_PATH)`;
  return null;
}

/** Resolves to one result per kind (refresh, code flow), or skipped ones with the reason. */
export async function clusterTokensScenario(settings, { log }) {
  const skipped = whyNot();
  if (skipped) {
    log(`scenario ${ID} skipped: ${skipped}`);
    return KINDS.map(({ id, title }) => ({ id, title, skipped }));
  }
  log(`scenario ${ID}: token path on 1 node vs ${NODES} nodes, PostgreSQL`);
  const stops = [];
  const dirs = [];
  try {
    const pg = await startPostgres();
    stops.push(pg);
    const databaseUrl = pg.createDatabase('bench_cluster_tokens');
    await seed(databaseUrl, RESOURCE);
    const ports = await Promise.all(Array.from({ length: NODES }, () => freePort()));
    const lb = await startNginxFronts([[ports[0]], ports], { balancer: true });
    stops.push(lb);
    const [oneNodeUrl, clusterUrl] = lb.urls;
    // Every node states the balancer's address as its issuer, as in a real cluster; the 1-node
    // listener differs only by its port, which nothing on the token path compares.
    const nodes = await Promise.all(
      ports.map((port) => {
        const dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-bench-node-'));
        dirs.push(dataDir);
        return startChild('as_server.mjs', {
          env: { ...asEnv({ port, dataDir }), MCP_OAUTH_ISSUER: clusterUrl, MCP_OAUTH_DATABASE_URL: databaseUrl },
        });
      }),
    );
    stops.push(...nodes);

    // Sessions, consents and refresh tokens are made through the cluster (any node may serve any
    // step) and live in the shared database, so both sides load the same grants.
    const { client_id: clientId } = await registerClient(clusterUrl);
    const inst = { url: clusterUrl, clientId, resource: RESOURCE };
    const target = await tokenTarget(inst, settings.connections, { username: USERNAME, password: PASSWORD });
    const on = (url, servers, job) => async (duration) => ({
      ...(await target[job](duration)),
      url,
      pids: servers.map((n) => n.pid),
      databasePid: pg.pid,
    });

    const results = [];
    for (const kind of KINDS) {
      log(`  ${kind.id}`);
      const m = await alternate(
        settings,
        [
          { key: 'subject', label: `${NODES} nodes (PostgreSQL, nginx)`, job: on(clusterUrl, nodes, kind.job) },
          { key: 'baseline', label: '1 node (PostgreSQL, nginx)', job: on(oneNodeUrl, nodes.slice(0, 1), kind.job) },
        ],
        log,
      );
      results.push({
        id: kind.id,
        title: kind.title,
        unit: kind.unit,
        ...m,
        ...ratios(m.subject, m.baseline),
        extra: `PostgreSQL CPU ms each: ${fmt(m.subject.dbCpuMsPerOp)} (${NODES} nodes), ${fmt(m.baseline.dbCpuMsPerOp)} (1 node)`,
        target: { reportOnly: true },
      });
    }
    return results;
  } finally {
    for (const s of stops.reverse()) await s.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
