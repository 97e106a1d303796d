#!/usr/bin/env node
// prestart hook: compiles with `tsc -p tsconfig.json` only when dist/src/main.js is missing or older
// than any file under src/ or migrations/, or than tsconfig.json. Plain Node, no dependencies.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const output = path.join(root, 'dist', 'src', 'main.js');
const inputs = ['src', 'migrations', 'tsconfig.json'].map((p) => path.join(root, p));

/** Newest mtime (ms) of a file, or of any file below a directory; 0 when it does not exist. */
function newestMtime(target) {
  let stat;
  try {
    stat = statSync(target);
  } catch (err) {
    if (err.code === 'ENOENT') return 0;
    throw err;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(target, { withFileTypes: true })) {
    newest = Math.max(newest, newestMtime(path.join(target, entry.name)));
  }
  return newest;
}

function reason() {
  if (!existsSync(output)) return 'dist/src/main.js is missing';
  const built = statSync(output).mtimeMs;
  for (const input of inputs) {
    if (newestMtime(input) > built) return `${path.relative(root, input)} changed since the last build`;
  }
  return undefined;
}

const why = reason();
if (why === undefined) process.exit(0);

let tsc;
try {
  tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  console.error(`build-if-needed: ${why}, but TypeScript is not installed (run \`npm ci\` with dev dependencies).`);
  process.exit(1);
}
console.error(`build-if-needed: ${why}; running tsc -p tsconfig.json`);
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
if (result.error) throw result.error;
process.exit(result.status ?? 1);
