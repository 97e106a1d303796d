// Scenario 7 (server part): resident memory of the authorization server after the load runs of
// scenarios 1-3, and again after registering many agents (each a stored client the provider may
// cache). The proxy's figure is taken by the proxy scenario.
import { runLoad } from '../lib/load.mjs';
import { REDIRECT_URI } from '../lib/oauth.mjs';
import { cpuMsOf } from '../lib/proc.mjs';

const MiB = 2 ** 20;
const mib = (bytes) => (bytes === null ? null : Math.round((bytes / MiB) * 10) / 10);

export async function memoryScenario(settings, inst, log, rssAtStart = null) {
  log(`scenario 7: server memory, then ${settings.registrations} registrations`);
  const afterLoad = inst.rss();
  // In ten steps, so the report shows whether registering gets slower as agents accumulate.
  const steps = 10;
  const perStep = Math.ceil(settings.registrations / steps);
  const res = { ok: 0, failed: 0, seconds: 0 };
  const stepRates = [];
  const cpuBefore = cpuMsOf(inst.pid);
  for (let i = 0; i < steps; i++) {
    const step = await runLoad({
      kind: 'register',
      url: inst.url,
      connections: 4,
      amount: perStep,
      data: {
        body: {
          client_name: 'Bench Agent',
          redirect_uris: [REDIRECT_URI],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        },
      },
    });
    if (step.failed) log(`  registrations: ${step.failed} failed (${step.samples.join(' | ')})`);
    res.ok += step.ok;
    res.failed += step.failed;
    res.seconds += step.seconds;
    stepRates.push(Math.round(step.opsPerSec));
  }
  const cpuAfter = cpuMsOf(inst.pid);
  const cpuPerRegistration =
    cpuBefore !== null && cpuAfter !== null && res.ok > 0
      ? Math.round(((cpuAfter - cpuBefore) / res.ok) * 100) / 100
      : null;
  log(`  registrations/s per ${perStep}: ${stepRates.join(', ')}; ${cpuPerRegistration} CPU ms each`);
  // Let timers and GC settle a moment, as a server between bursts would.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const afterClients = inst.rss();
  log(`  server RSS ${mib(afterLoad)} MiB after load, ${mib(afterClients)} MiB after ${res.ok} registrations`);
  return {
    id: 'memory',
    title: 'Memory (resident set size)',
    unit: 'MiB',
    server: {
      atStartMiB: mib(rssAtStart),
      afterLoadMiB: mib(afterLoad),
      afterRegistrationsMiB: mib(afterClients),
      registrations: res.ok,
      registrationsPerSec: Math.round(res.ok / res.seconds),
      registrationsPerSecBySteps: stepRates,
      cpuMsPerRegistration: cpuPerRegistration,
      failed: res.failed,
    },
    subject: { failed: res.failed },
  };
}
