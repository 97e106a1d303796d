// Scenarios 4 (resource proxy overhead), 5 (revocation reach) and 7 (proxy memory). One MCP
// upstream; in front of it the proxy with token checks on (subject), the same proxy with checks
// off (baseline), nginx as a plain reverse proxy, and nothing (direct), for reference. Scenario 4
// runs once per MCP revision the proxy serves: a 2025-11-25 call (body only) and a 2026-07-28 call
// (the _meta envelope and the mirrored headers the proxy checks against the body).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PASSWORD, startAs, USERNAME } from '../lib/instances.mjs';
import { runLoad } from '../lib/load.mjs';
import { alternate, median, percentile, ratios } from '../lib/measure.mjs';
import { nginxAvailable, startNginx } from '../lib/nginx.mjs';
import { authorize, CookieJar, redeem } from '../lib/oauth.mjs';
import { DIST, distImport, freePort, startChild } from '../lib/proc.mjs';
import { dpopScenario } from './dpop.mjs';

const CALL = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: 'hello' } },
});
const CALL_MODERN = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: {
    name: 'echo',
    arguments: { text: 'hello' },
    _meta: {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    },
  },
});
const MiB = 2 ** 20;
const REACH_TITLE = 'Revocation reach, one node (revoke → first refusal at the proxy)';
// A revocation made in the process wakes its feed at once (no waiting for the 100 ms poll).
const REACH_TARGET = { p99Ms: 50 };

/** Scenario 4 per revision: the result id and title, the body, and the headers beside the token. */
const REVISIONS = [
  { id: 'proxy', title: 'Resource proxy: tools/call, token checks on vs off', body: CALL, headers: {} },
  {
    id: 'proxy_modern',
    title: 'Resource proxy, MCP 2026-07-28: tools/call, token checks on vs off',
    body: CALL_MODERN,
    headers: { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
  },
];

async function proxyAvailable() {
  if (!existsSync(path.join(DIST, 'src', 'proxy', 'index.js'))) return 'proxy not available (no src/proxy/index.ts)';
  try {
    const mod = await distImport('src/proxy/index.js');
    if (typeof mod.startProxy !== 'function' || typeof mod.loadProxyConfig !== 'function') {
      return 'proxy not available (src/proxy/index.ts does not export startProxy and loadProxyConfig)';
    }
  } catch (err) {
    return `proxy not available (${err instanceof Error ? err.message : err})`;
  }
  return null;
}

function skipped(reason) {
  return [
    ...REVISIONS.map((r) => ({ id: r.id, title: r.title, skipped: reason, target: { ratio: 0.9, p99OverheadMs: 1 } })),
    { id: 'dpop', title: 'Resource proxy: tools/call with DPoP vs bearer', skipped: reason },
    { id: 'revocation', title: REACH_TITLE, skipped: reason, target: REACH_TARGET },
  ];
}

const grantIdOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')).grant_id;

async function callProxy(url, token) {
  const res = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
    },
    body: CALL,
  });
  await res.arrayBuffer();
  return res.status;
}

async function overhead(settings, t, log, revision) {
  log(`scenario 4: resource proxy (${revision.id})`);
  const body = revision.body;
  const plain = revision.headers;
  const auth = { ...t.auth, ...plain };
  const job = (url, headers, pid) => async (duration) => ({
    kind: 'mcp',
    url,
    pid,
    connections: settings.connections,
    duration,
    data: { path: '/mcp', headers, body },
  });
  const targets = [
    { key: 'subject', label: 'proxy, token checks on', job: job(t.on.url, auth, t.onPid) },
    { key: 'baseline', label: 'proxy, token checks off', job: job(t.off.url, plain, t.offPid) },
    { key: 'direct', label: 'direct to the MCP server', job: job(t.upstreamBase, plain) },
  ];
  if (t.nginx) targets.push({ key: 'nginx', label: 'nginx pass-through', job: job(t.nginx.url, plain) });
  const m = await alternate(settings, targets, log);

  // Latency without load, one request at a time, microsecond timing: the checks' own cost.
  const probes = { on: [], off: [] };
  for (let r = 0; r < settings.rounds; r++) {
    for (const [key, url, headers] of r % 2
      ? [
          ['off', t.off.url, plain],
          ['on', t.on.url, auth],
        ]
      : [
          ['on', t.on.url, auth],
          ['off', t.off.url, plain],
        ]) {
      const res = await runLoad({
        kind: 'probe',
        url,
        count: settings.probeCount,
        data: { path: '/mcp', headers, body },
      });
      if (res.failed) log(`  probe ${key}: ${res.failed} failed (${res.samples.join(' | ')})`);
      probes[key].push(res);
    }
  }
  const p = (key, q) => median(probes[key].map((x) => x.latency[q]));
  const round3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
  const probe = {
    on: { p50: round3(p('on', 'p50')), p99: round3(p('on', 'p99')) },
    off: { p50: round3(p('off', 'p50')), p99: round3(p('off', 'p99')) },
  };
  log(
    `  one at a time: checks on p50 ${probe.on.p50} / p99 ${probe.on.p99} ms, off p50 ${probe.off.p50} / p99 ${probe.off.p99} ms`,
  );
  const failedProbes = [...probes.on, ...probes.off].reduce((n, x) => n + x.failed, 0);
  return {
    id: revision.id,
    title: revision.title,
    unit: 'calls/s',
    subject: { ...m.subject, failed: m.subject.failed + failedProbes },
    baseline: m.baseline,
    references: [m.direct, m.nginx].filter(Boolean),
    ...ratios(m.subject, m.baseline),
    probe,
    p99OverheadMs: probe.on.p99 !== null && probe.off.p99 !== null ? round3(probe.on.p99 - probe.off.p99) : null,
    p99OverheadUnderLoadMs: m.subject.p99 - m.baseline.p99,
    target: { ratio: 0.9, p99OverheadMs: 1 },
  };
}

/**
 * Revocation reach: revoke returned → first refusal at the proxy. `opts.revokeUrl` is the node the
 * revocation is made on (default: the one the proxy follows); `opts.id`, `title` and `target` name
 * the result (the cluster scenario reuses this one).
 */
export async function reach(settings, t, log, opts = {}) {
  const id = opts.id ?? 'revocation';
  const revokeUrl = opts.revokeUrl ?? t.as.url;
  log(`scenario ${id}: revocation reach over ${settings.revokes} revokes`);
  const times = [];
  let failed = 0;
  for (let i = 0; i < settings.revokes; i++) {
    const got = await authorize(t.as.url, { jar: t.jar, clientId: t.as.clientId, resource: t.as.resource });
    const { access_token: token } = await redeem(t.as.url, t.as.clientId, got);
    if ((await callProxy(t.on.url, token)) !== 200) {
      failed++;
      continue;
    }
    const res = await fetch(`${revokeUrl}/admin/api/grants/${encodeURIComponent(grantIdOf(token))}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.as.adminToken}` },
    });
    const body = await res.json();
    const revokedAt = performance.now();
    if (res.status !== 200 || body.revoked !== true) {
      failed++;
      log(`  revoke answered ${res.status} ${JSON.stringify(body)}`);
      continue;
    }
    let refused = null;
    while (performance.now() - revokedAt < 10_000) {
      const status = await callProxy(t.on.url, token);
      if (status === 401 || status === 403) {
        refused = performance.now();
        break;
      }
    }
    if (refused === null) failed++;
    else times.push(refused - revokedAt);
  }
  const r1 = (x) => (x === null ? null : Math.round(x * 10) / 10);
  const out = {
    id,
    title: opts.title ?? REACH_TITLE,
    revokes: times.length,
    p50Ms: r1(percentile(times, 50)),
    p99Ms: r1(percentile(times, 99)),
    maxMs: r1(times.length ? Math.max(...times) : null),
    subject: { failed },
    target: opts.target ?? REACH_TARGET,
  };
  log(`  p50 ${out.p50Ms} ms, p99 ${out.p99Ms} ms, max ${out.maxMs} ms, ${failed} failed`);
  return out;
}

export async function proxyScenarios(settings, { want, log, profileArgs }) {
  const unavailable = await proxyAvailable();
  if (unavailable) {
    log(`scenarios 4 and 5 skipped: ${unavailable}`);
    return skipped(unavailable).filter((s) => want(s.id) || (s.id === 'proxy_modern' && want('proxy')));
  }
  const stops = [];
  try {
    const upstreamPort = await freePort();
    const upstream = await startChild('upstream.mjs', { env: { BENCH_PORT: String(upstreamPort) } });
    stops.push(upstream);
    const onPort = await freePort();
    const resource = `http://127.0.0.1:${onPort}/mcp`;
    const as = await startAs({ resources: [resource], execArgv: profileArgs('server_for_proxy') });
    stops.push(as);
    const proxyEnv = (port, extra = {}) => ({
      MCP_PROXY_HOST: '127.0.0.1',
      MCP_PROXY_PORT: String(port),
      MCP_PROXY_ISSUER: as.url,
      MCP_PROXY_FEED_CLIENT_ID: as.credential.id,
      MCP_PROXY_FEED_CLIENT_SECRET: as.credential.secret,
      MCP_PROXY_RESOURCE: resource,
      MCP_PROXY_UPSTREAM: upstream.info.url,
      MCP_PROXY_LOG_LEVEL: 'warn',
      ...extra,
    });
    const on = await startChild('proxy_server.mjs', { env: proxyEnv(onPort), execArgv: profileArgs('proxy') });
    stops.push(on);
    const off = await startChild('proxy_server.mjs', { env: proxyEnv(await freePort(), { BENCH_SKIP_CHECKS: '1' }) });
    stops.push(off);
    let nginx = null;
    if (nginxAvailable()) {
      nginx = await startNginx(upstreamPort);
      stops.push(nginx);
    } else log(`  nginx reference skipped: no ${process.env.NGINX_PATH ?? '/usr/sbin/nginx'}`);

    const jar = new CookieJar();
    const login = { username: USERNAME, password: PASSWORD };
    const first = await authorize(as.url, { jar, clientId: as.clientId, resource, ...login });
    const { access_token: token } = await redeem(as.url, as.clientId, first);
    const t = {
      as,
      jar,
      on: on.info,
      off: off.info,
      onPid: on.pid,
      offPid: off.pid,
      nginx,
      upstreamBase: new URL(upstream.info.url).origin,
      auth: { authorization: `Bearer ${token}` },
    };
    const out = [];
    // `--only=proxy` measures both revisions; `--only=proxy_modern` the modern one alone.
    for (const revision of REVISIONS) {
      if (!want(revision.id) && !want('proxy')) continue;
      const result = await overhead(settings, t, log, revision);
      const rss = on.rss();
      result.memory = { afterLoadMiB: rss === null ? null : Math.round((rss / MiB) * 10) / 10 };
      out.push(result);
    }
    if (want('dpop')) out.push(await dpopScenario(settings, t, log, { resource, call: CALL }));
    if (want('revocation')) out.push(await reach(settings, t, log));
    return out;
  } finally {
    for (const s of stops.reverse()) await s.stop();
  }
}
