#!/usr/bin/env node
// `npm run bench [-- --quick] [--only id,id] [--profile]`: starts every server it needs on
// 127.0.0.1, loads each with autocannon from a separate process, alternates subject and baseline,
// prints a table and writes bench/results/<date>.json (and latest.json). Targets are reported,
// never enforced: the exit code is non-zero only when something is broken (a failed request, a
// server that does not start), never because the machine is slow.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchEngine, benchPostgres } from './lib/bench_database.mjs';
import { PASSWORD, removeDataDirs, startAs, startBaselineProvider, USERNAME } from './lib/instances.mjs';
import { stopAllNginx } from './lib/nginx.mjs';
import { stopAllPostgres } from './lib/postgres.mjs';
import { BENCH_DIR } from './lib/proc.mjs';
import { formatTable } from './lib/report.mjs';
import { clusterScenario } from './scenarios/cluster.mjs';
import { clusterTokensScenario } from './scenarios/cluster_tokens.mjs';
import { loginScenario } from './scenarios/login.mjs';
import { memoryScenario } from './scenarios/memory.mjs';
import { proxyScenarios } from './scenarios/proxy.mjs';
import { scaleScenario } from './scenarios/scale.mjs';
import { codeFlowScenario, refreshScenario, tokenTarget } from './scenarios/tokens.mjs';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const profile = argv.includes('--profile');
const onlyArg = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const only = onlyArg ? new Set(onlyArg.split(',')) : null;
const SCENARIOS = [
  'refresh',
  'code_flow',
  'login',
  'memory',
  'proxy',
  'proxy_modern',
  'dpop',
  'revocation',
  'revocation_cluster',
  'cluster_tokens',
  'scale',
];
const unknown = [...(only ?? [])].filter((id) => !SCENARIOS.includes(id));
const badArg = argv.find((a) => !['--quick', '--profile'].includes(a) && !a.startsWith('--only='));
if (unknown.length || badArg) {
  console.error(
    `usage: npm run bench [-- --quick] [--only=${SCENARIOS.join(',')}] [--profile]\n${badArg ? `unknown option ${badArg}` : `unknown scenario ${unknown.join(', ')}`}`,
  );
  process.exit(2);
}
const want = (id) => !only || only.has(id);
// The scale scenario's seed writes SQLite directly (bench/lib/seed.mjs).
if (benchPostgres() && want('scale')) {
  console.error('BENCH_POSTGRES_URL: the scale scenario is SQLite-only; leave it out with --only=...');
  process.exit(2);
}

const settings = quick
  ? { quick, rounds: 2, duration: 1, warmup: 0, connections: 4, loginConnections: 4, revokes: 20 }
  : { quick, rounds: 5, duration: 3, warmup: 1, connections: 8, loginConnections: 4, revokes: 200 };
settings.seed = quick ? { users: 1_000, grants: 10_000 } : { users: 100_000, grants: 1_000_000 };
settings.registrations = quick ? 200 : 10_000;
settings.probeCount = quick ? 200 : 1000;

const started = Date.now();
const log = (line) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);

const profileDir = path.join(BENCH_DIR, 'results', 'profiles');
/** node --cpu-prof arguments for one server process, one folder per role (empty without --profile). */
const profileArgs = (role) => (profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, role)}`] : []);
if (profile) mkdirSync(profileDir, { recursive: true });

const results = [];
let broken = false;
const record = (r) => {
  if (!r) return;
  results.push(r);
  if ((r.subject?.failed ?? 0) + (r.baseline?.failed ?? 0) > 0 || r.error) broken = true;
};

async function main() {
  const needTokens = want('refresh') || want('code_flow') || want('login') || want('memory');
  if (needTokens) {
    const ours = await startAs({ execArgv: profileArgs('server') });
    const base = await startBaselineProvider({ execArgv: profileArgs('baseline_provider') });
    const wantTokens = want('refresh') || want('code_flow');
    const durable = wantTokens
      ? await startBaselineProvider({ execArgv: profileArgs('baseline_durable'), durable: true })
      : undefined;
    try {
      const rssAtStart = ours.rss();
      const login = { username: USERNAME, password: PASSWORD };
      const oursT = await tokenTarget(ours, settings.connections, login);
      const baseT = await tokenTarget(base, settings.connections, {}, { freshGrants: true });
      const durableT = durable ? await tokenTarget(durable, settings.connections) : undefined;
      if (want('refresh')) record(await refreshScenario(settings, oursT, baseT, log, durableT));
      if (want('code_flow')) record(await codeFlowScenario(settings, oursT, baseT, log, durableT));
      if (want('login')) record(await loginScenario(settings, ours, log));
      if (want('memory')) record(await memoryScenario(settings, ours, log, rssAtStart));
    } finally {
      await durable?.stop();
      await base.stop();
      await ours.stop();
    }
  }
  if (want('proxy') || want('proxy_modern') || want('dpop') || want('revocation')) {
    for (const r of await proxyScenarios(settings, { want, log, profileArgs })) record(r);
  }
  if (want('revocation_cluster')) record(await clusterScenario(settings, { log }));
  if (want('cluster_tokens')) for (const r of await clusterTokensScenario(settings, { log })) record(r);
  if (want('scale')) record(await scaleScenario(settings, log, profileArgs));
}

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

// Interrupted: the Node servers exit when this process goes (they watch the IPC channel); nginx is
// stopped and the data dirs (the scale scenario's is about 2 GB) are removed here.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    stopAllNginx();
    stopAllPostgres();
    removeDataDirs();
    process.exit(130);
  });
}

const machineInfo = machine();
try {
  await main();
} catch (err) {
  broken = true;
  log(`benchmark failed: ${err instanceof Error ? err.stack : err}`);
}

const out = {
  date: new Date().toISOString(),
  command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
  mode: quick ? 'quick' : 'full',
  engine: benchEngine(),
  settings,
  machine: { ...machineInfo, loadAverageAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100) },
  seconds: Math.round((Date.now() - started) / 100) / 10,
  scenarios: results,
};
console.log(formatTable(out));
const dir = path.join(BENCH_DIR, 'results');
mkdirSync(dir, { recursive: true });
const file = path.join(dir, `${out.date.slice(0, 19).replace(/:/g, '-')}${quick ? '-quick' : ''}.json`);
writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
if (!quick && !only && !benchPostgres())
  writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(out, null, 2)}\n`);
log(`results written to ${path.relative(process.cwd(), file)}`);
if (broken) {
  log('some requests failed or a scenario broke: see above');
  process.exitCode = 1;
}
