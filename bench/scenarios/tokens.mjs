// Scenarios 1 (token refresh) and 2 (authorization code flow of a returning agent): our server on
// its database (SQLite, or PostgreSQL with BENCH_POSTGRES_URL: ../lib/bench_database.mjs) vs a bare oidc-provider with the same grant configuration in memory.

import { benchEngine } from '../lib/bench_database.mjs';
import { alternate, ratios } from '../lib/measure.mjs';
import { consentedSessions, mintTokens, REDIRECT_URI, SCOPE } from '../lib/oauth.mjs';
import { fmt } from '../lib/report.mjs';

/**
 * Everything the load of one server needs: signed-in, consented sessions (one per connection) and
 * a token minter. `freshGrants` (the in-memory baseline): new sessions, hence new grants, for every
 * run. oidc-provider's memory adapter keeps each grant's token ids in one map that it scans on every
 * token it stores, so a grant that has seen thousands of refreshes slows it down; real grants see a
 * few. Our server keeps one grant per user and agent whatever the session, and has no such cost.
 */
export async function tokenTarget(inst, connections, login = {}, { freshGrants = false } = {}) {
  const where = { clientId: inst.clientId, resource: inst.resource, ...login };
  const initial = await consentedSessions(inst.url, where, connections);
  const sessionsForRun = async () => (freshGrants ? consentedSessions(inst.url, where, connections) : initial);
  const mint = async (sessions, count) =>
    (
      await mintTokens(
        inst.url,
        { jars: sessions.slice(0, 4).map((s) => s.jar), clientId: inst.clientId, resource: inst.resource },
        count,
      )
    ).map((t) => t.refresh_token);
  return {
    inst,
    refreshJob: async (duration) => ({
      kind: 'refresh',
      url: inst.url,
      pid: inst.pid,
      connections,
      duration,
      // Twice the connections: a request in flight when a run stops burns its token.
      data: { tokens: await mint(await sessionsForRun(), connections * 2), clientId: inst.clientId },
    }),
    codeJob: async (duration) => ({
      kind: 'code',
      url: inst.url,
      pid: inst.pid,
      connections,
      duration,
      data: {
        cookies: (await sessionsForRun()).map((s) => s.jar.header()),
        clientId: inst.clientId,
        redirectUri: REDIRECT_URI,
        scope: SCOPE,
        resource: inst.resource,
      },
    }),
  };
}

/**
 * Our server against the bare provider on one job of `tokenTarget` (same rounds, same order). With
 * `durable` (the bare provider on a minimal SQLite adapter, ../lib/durable_adapter.mjs) a third
 * target runs in the same rounds: it tells the cost of storing tokens at all apart from the cost of
 * what our server does on top, and is reported beside the target, which stays against memory.
 */
async function againstBaseline(settings, ours, base, log, { id, title, unit, job, durable }) {
  const targets = [
    { key: 'subject', label: `mcp-oauth-server (${benchEngine()})`, job: ours[job] },
    { key: 'baseline', label: 'bare oidc-provider (memory)', job: base[job] },
  ];
  if (durable) targets.push({ key: 'durable', label: 'bare oidc-provider (SQLite adapter)', job: durable[job] });
  const m = await alternate(settings, targets, log);
  const result = { id, title, unit, ...m, ...ratios(m.subject, m.baseline), target: { ratio: 0.8 } };
  if (!m.durable) return result;
  const vsDurable = ratios(m.subject, m.durable);
  const durableVsMemory = ratios(m.durable, m.baseline);
  return {
    ...result,
    vsDurable,
    durableVsMemory,
    references: [m.durable],
    extra: `vs bare oidc-provider on SQLite: ${fmt(vsDurable.ratio, 2)} (CPU ${fmt(vsDurable.cpuRatio, 2)}); that provider vs memory: ${fmt(durableVsMemory.ratio, 2)} (CPU ${fmt(durableVsMemory.cpuRatio, 2)})`,
  };
}

export function refreshScenario(settings, ours, base, log, durable) {
  log('scenario 1: token refresh');
  return againstBaseline(settings, ours, base, log, {
    id: 'refresh',
    title: 'Token refresh (refresh_token grant, JWT access token, rotation)',
    unit: 'refreshes/s',
    job: 'refreshJob',
    durable,
  });
}

export function codeFlowScenario(settings, ours, base, log, durable) {
  log('scenario 2: authorization code flow, returning agent');
  return againstBaseline(settings, ours, base, log, {
    id: 'code_flow',
    title: 'Authorization code flow, already consented (session → /authorize → code → /token)',
    unit: 'flows/s',
    job: 'codeJob',
    durable,
  });
}
