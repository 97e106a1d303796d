// Scenario 6: token refresh on a database holding many users and grants vs an empty one. Both are
// our server; the full database is seeded with direct SQL (bench/lib/seed.mjs) and the server is
// restarted on it, as after a deployment.
import { PASSWORD, startAs, USERNAME } from '../lib/instances.mjs';
import { alternate, ratios } from '../lib/measure.mjs';
import { seedDatabase } from '../lib/seed.mjs';
import { tokenTarget } from './tokens.mjs';

export async function scaleScenario(settings, log, profileArgs = () => []) {
  const { users, grants } = settings.seed;
  log(`scenario 6: refresh with ${grants} grants and ${users} users vs empty`);
  const big = await startAs({ execArgv: profileArgs('scale_full') });
  const small = await startAs({ execArgv: profileArgs('scale_empty') });
  try {
    const login = { username: USERNAME, password: PASSWORD };
    const bigT = await tokenTarget(big, settings.connections, login);
    const smallT = await tokenTarget(small, settings.connections, login);
    await big.pause();
    const seeded = await seedDatabase(big.dataDir, { users, grants, clients: Math.max(10, Math.round(grants / 1000)) });
    log(`  seeded in ${seeded.seconds} s: ${JSON.stringify(seeded)}`);
    await big.resume();
    const m = await alternate(
      settings,
      [
        { key: 'subject', label: `${grants} grants, ${users} users`, job: bigT.refreshJob },
        { key: 'baseline', label: 'empty database', job: smallT.refreshJob },
      ],
      log,
    );
    return {
      id: 'scale',
      title: 'Scale: token refresh on a full database vs an empty one',
      unit: 'refreshes/s',
      seeded,
      ...m,
      ...ratios(m.subject, m.baseline),
      target: { ratio: 0.9 },
    };
  } finally {
    await big.stop();
    await small.stop();
  }
}
