// `npm test` pre-step: installs the Debian packages the suite drives, when missing and we are root:
//   chromium        the browser tests (playwright-core cannot download its own browser here),
//   nginx           the resource proxy's auth_request and TLS examples, run as a child process,
//   fonts-noto-cjk  real Japanese and Korean glyphs for the pages' phone-width layout checks,
//   postgresql      the throwaway PostgreSQL cluster of the second engine (test/support/postgres.ts).
// Otherwise it says how; the tests that need a missing package skip locally (they fail when CI is set).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const wanted = [
  { pkg: 'chromium', path: process.env.CHROMIUM_PATH || '/usr/bin/chromium', env: 'CHROMIUM_PATH' },
  { pkg: 'nginx', path: process.env.NGINX_PATH || '/usr/sbin/nginx', env: 'NGINX_PATH' },
  { pkg: 'fonts-noto-cjk', path: '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc' },
  { pkg: 'postgresql', path: `${process.env.PG_BIN || debianPgBin()}/initdb`, env: 'PG_BIN' },
];

function debianPgBin() {
  const versions = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v))
    : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  return newest ? `/usr/lib/postgresql/${newest}/bin` : '/usr/lib/postgresql/bin';
}
const missing = wanted.filter((w) => !existsSync(w.path));
if (missing.length === 0) process.exit(0);

const names = missing.map((m) => m.pkg);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = existsSync('/usr/bin/apt-get');
if (!isRoot || !hasApt) {
  console.warn(
    `missing test packages: ${names.join(', ')}; install them (Debian: sudo apt-get install ${names.join(' ')})`,
  );
  for (const m of missing) if (m.env) console.warn(`  or point ${m.env} at an existing ${m.pkg}`);
  console.warn('the tests that need them will be skipped (they fail when CI is set).');
  process.exit(0);
}
console.log(`installing Debian packages for the tests: ${names.join(', ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', RUNLEVEL: '1' };
execFileSync('apt-get', ['update', '-o', 'Acquire::Retries=3'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '--no-install-recommends', '-o', 'Acquire::Retries=3', ...names], {
  stdio: 'inherit',
  env,
});
