// The architecture, as a test: which folder of src/ may import which (docs/design.md, "Layers").
// Dependencies point one way, from the bottom (pure helpers) to the top (entry points), so every
// folder can be read, tested and replaced knowing only what is below it. A new folder, or an import
// against the direction, fails here with the offending file named.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf, SRC, sourceFiles } from './import_walker.js';

/** Each folder of src/ and the folders it may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  lib: [],
  i18n: ['lib'],
  config: ['lib'],
  log: ['lib', 'config'],
  storage: ['lib', 'config', 'log'],
  audit: ['lib', 'config', 'log', 'storage'],
  provider: ['lib', 'i18n', 'config', 'log', 'storage', 'audit'],
  grants: ['lib', 'config', 'log', 'storage', 'audit', 'provider'],
  web: ['lib', 'i18n', 'config', 'log', 'storage', 'audit', 'provider', 'grants'],
  interactions: ['lib', 'i18n', 'config', 'log', 'storage', 'audit', 'provider', 'grants', 'web'],
  account: ['lib', 'i18n', 'config', 'log', 'storage', 'audit', 'provider', 'grants', 'web'],
  admin: ['lib', 'i18n', 'config', 'log', 'storage', 'audit', 'provider', 'grants', 'web'],
  ops: ['lib', 'config', 'log', 'storage', 'audit', 'web'],
  app: [
    'lib',
    'i18n',
    'config',
    'log',
    'storage',
    'audit',
    'provider',
    'grants',
    'web',
    'interactions',
    'account',
    'admin',
    'ops',
  ],
  cli: ['lib', 'i18n', 'config', 'log', 'storage', 'audit', 'provider', 'grants', 'ops', 'app'],
  // A separate process: it must not load the authorization server (storage, provider, app ...).
  proxy: ['lib', 'config', 'log'],
};

const folderOf = (file: string): string => path.relative(SRC, file).split(path.sep)[0] as string;

describe('layers', () => {
  it('every folder of src/ has a place in the table', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    expect(folders.filter((f) => !(f in ALLOWED))).toEqual([]);
  });

  it('the table itself has no cycle (so it is a direction, not a mesh)', () => {
    const seen = new Set<string>();
    const visiting = new Set<string>();
    const visit = (folder: string, trail: string[]): void => {
      if (visiting.has(folder)) throw new Error(`cycle: ${[...trail, folder].join(' → ')}`);
      if (seen.has(folder)) return;
      visiting.add(folder);
      for (const dep of ALLOWED[folder] ?? []) visit(dep, [...trail, folder]);
      visiting.delete(folder);
      seen.add(folder);
    };
    for (const folder of Object.keys(ALLOWED)) visit(folder, []);
  });

  it('every import in src/ points in the allowed direction', () => {
    const violations: string[] = [];
    for (const file of sourceFiles()) {
      const from = folderOf(file);
      if (!(from in ALLOWED)) continue; // top-level files (main.ts) are entry points
      for (const target of importsOf(file)) {
        const to = folderOf(target);
        if (to === from || !(to in ALLOWED)) continue;
        if (!ALLOWED[from]?.includes(to))
          violations.push(`${path.relative(SRC, file)} imports ${path.relative(SRC, target)} (${from} → ${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('src/main.ts has no static imports: `proxy` is dispatched before the CLI (and its storage) loads', () => {
    const text = readFileSync(path.join(SRC, 'main.ts'), 'utf8');
    expect(text).not.toMatch(/^\s*import\s[^(]/m);
    expect(text.indexOf("import('./proxy/main.js')")).toBeGreaterThan(0);
    expect(text.indexOf("import('./proxy/main.js')")).toBeLessThan(text.indexOf("import('./cli/index.js')"));
  });

  it('the walker finds what it is meant to find (so the rules above cannot pass vacuously)', () => {
    const cli = importsOf(path.join(SRC, 'cli', 'index.ts'));
    expect(cli.length).toBeGreaterThan(3);
    expect(sourceFiles().length).toBeGreaterThan(50);
    // A made-up violation is caught by the same check.
    expect(ALLOWED.proxy?.includes('storage')).toBe(false);
  });
});
