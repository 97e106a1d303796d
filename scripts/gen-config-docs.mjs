#!/usr/bin/env node
// Writes docs/configuration.md from the setting schemas in src/config/ (`npm run docs:config`).
// It renders with the compiled code, so it builds first when dist/ is missing or stale (the same
// check as `npm start`); plain Node and tsc, no other tool. `--check` exits 1 when the committed
// file is stale instead of writing it (test/config/docs.test.ts checks the same from the sources).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.join(root, 'docs', 'configuration.md');

const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-if-needed.mjs')], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const { renderConfigDocs } = await import(pathToFileURL(path.join(root, 'dist', 'src', 'config', 'docs.js')).href);
const text = renderConfigDocs();

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {}
  if (current !== text) {
    console.error('docs/configuration.md is stale: run `npm run docs:config` and commit it.');
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  console.error(`wrote ${path.relative(root, target)}`);
}
