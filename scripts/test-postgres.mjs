#!/usr/bin/env node
// The second half of `npm test`: the whole suite again, with the test servers on PostgreSQL
// (MCP_OAUTH_TEST_ENGINE=postgres; test/support/postgres.ts starts one throwaway cluster for the
// run). Where PostgreSQL is not installed it says so and stops, successfully, except under CI=true,
// where a missing engine is a failure (docs/storage.md, "Tests on both engines"). Extra arguments
// go to vitest.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function pgBin() {
  const usable = (dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl'));
  if (process.env.PG_BIN) return usable(process.env.PG_BIN) ? process.env.PG_BIN : undefined;
  const candidates = [];
  if (existsSync('/usr/lib/postgresql')) {
    const versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v));
    for (const v of versions.sort((a, b) => Number(b) - Number(a))) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  }
  candidates.push(...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean));
  return candidates.find(usable);
}

const bin = pgBin();
if (!bin) {
  const reason = 'PostgreSQL is not installed (no initdb in PG_BIN, /usr/lib/postgresql/*/bin or PATH)';
  if (process.env.CI === 'true') {
    console.error(`test-postgres: ${reason}; CI must run the suite on both engines`);
    process.exit(1);
  }
  console.warn(`test-postgres: SKIPPED the PostgreSQL run of the suite: ${reason}.`);
  console.warn("test-postgres: install Debian's postgresql package (or set PG_BIN) to run it.");
  process.exit(0);
}
console.log(`\ntest-postgres: the suite again on PostgreSQL (${bin})\n`);
const result = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit', env: { ...process.env, MCP_OAUTH_TEST_ENGINE: 'postgres', PG_BIN: bin } },
);
process.exit(result.status ?? 1);
