#!/usr/bin/env node
// Adds lockfile entries for platform-specific optional dependencies that npm left out of
// package-lock.json because the registry it reached did not serve them (404 for, e.g.,
// @biomejs/cli-darwin-arm64). Without them `npm ci` refuses the lockfile ("Missing: X@ from lock
// file"), both here and on a machine that reaches the full registry (the Docker build).
//
// Each added entry carries the exact version the parent pins, and the os/cpu/libc read off the
// package name, so npm skips it on every other platform without fetching it; on its own platform
// npm fetches it by name and version. `npm install` keeps such entries.
//
// Usage: node scripts/lock-add-missing-optional.mjs [--check]
//   --check: change nothing, exit 1 when entries are missing.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lockPath = path.join(root, 'package-lock.json');
const check = process.argv.includes('--check');

const OS = ['android', 'darwin', 'freebsd', 'linux', 'netbsd', 'openbsd', 'openharmony', 'sunos', 'win32', 'aix'];
const CPU = ['arm64', 'x64', 'arm', 'ia32', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el'];
const EXACT = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p) || p === 'win' || p === 'windows');
  const cpu = parts.find((p) => CPU.includes(p) || p === 'x86_64' || p === 'aarch64');
  if (os === undefined || cpu === undefined) return undefined;
  const entry = {
    os: [os === 'win' || os === 'windows' ? 'win32' : os],
    cpu: [cpu === 'x86_64' ? 'x64' : cpu === 'aarch64' ? 'arm64' : cpu],
  };
  if (parts.includes('musl')) entry.libc = ['musl'];
  else if (parts.includes('gnu') || parts.includes('glibc')) entry.libc = ['glibc'];
  return entry;
}

/** Where npm would look for `name` from the package at `parentKey` (nearest node_modules up). */
function resolves(packages, parentKey, name) {
  let dir = parentKey;
  for (;;) {
    if (packages[`${dir ? `${dir}/` : ''}node_modules/${name}`]) return true;
    if (dir === '') return false;
    const idx = dir.lastIndexOf('node_modules/');
    dir = idx <= 0 ? '' : dir.slice(0, idx - 1);
  }
}

const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages ?? {};
const added = [];
const skipped = [];
for (const [key, meta] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(meta.optionalDependencies ?? {})) {
    if (resolves(packages, key, name)) continue;
    const platform = platformOf(name);
    if (platform === undefined || !EXACT.test(spec)) {
      skipped.push(`${name}@${spec} (optional dependency of ${key || 'the root'})`);
      continue;
    }
    const target = packages[`node_modules/${name}`] ? `${key}/node_modules/${name}` : `node_modules/${name}`;
    // Fields in the order npm writes them (version first, then alphabetical).
    const fields = { ...platform, optional: true };
    if (meta.dev) fields.dev = true;
    if (meta.devOptional) fields.devOptional = true;
    packages[target] = {
      version: spec,
      ...Object.fromEntries(Object.entries(fields).sort(([a], [b]) => a.localeCompare(b, 'en'))),
    };
    added.push(`${target}@${spec}`);
  }
}

for (const s of skipped)
  console.error(`lock-add-missing-optional: cannot add ${s}: no platform in its name or no exact version`);
if (added.length === 0) {
  console.error('lock-add-missing-optional: no missing optional platform packages');
  process.exit(0);
}
if (check) {
  console.error(`lock-add-missing-optional: package-lock.json lacks ${added.length} entries:\n  ${added.join('\n  ')}`);
  process.exit(1);
}
// npm orders the entries this way too, so the diff is only the added entries.
const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => a.localeCompare(b, 'en')));
lock.packages = sorted;
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.error(`lock-add-missing-optional: added ${added.length} entries:\n  ${added.join('\n  ')}`);
