// `npm test` pre-step: the browser tests drive Debian's chromium with playwright-core (Playwright
// cannot download its own browser here). Installs it with apt-get when missing and we are root;
// otherwise says how, and the browser tests skip locally (they fail in CI).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const path = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
if (existsSync(path)) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = existsSync('/usr/bin/apt-get');
if (!isRoot || !hasApt) {
  console.warn(
    `chromium not found at ${path}; install it (Debian: sudo apt-get install chromium) or set CHROMIUM_PATH.`,
  );
  console.warn('the browser tests will be skipped (they fail when CI is set).');
  process.exit(0);
}
console.log('installing Debian chromium for the browser tests…');
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-o', 'Acquire::Retries=3'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
