// The proxy is a separate process that must not load the authorization server: nothing reachable
// from src/proxy/** (static or dynamic imports, followed transitively) may be in src/storage,
// src/provider, src/http or src/cli. And `mcp-oauth proxy` must reach it without loading the CLI.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SRC = path.join(ROOT, 'src');
const FORBIDDEN = ['storage', 'provider', 'http', 'cli'].map((d) => path.join(SRC, d) + path.sep);
const SPECIFIER =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(SPECIFIER)].map((m) => m[1] ?? m[2] ?? m[3] ?? '').filter(Boolean);
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined; // a package: not our code
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), `${base}.ts`, path.join(base, 'index.ts'), base]) {
    if (existsSync(candidate) && candidate.endsWith('.ts')) return candidate;
  }
  throw new Error(`${path.relative(ROOT, from)} imports ${spec}, which does not resolve`);
}

function walk(entries: string[]): Map<string, string> {
  // file → the file that first imported it (for a readable failure message)
  const seen = new Map<string, string>(entries.map((e) => [e, '(entry)']));
  const queue = [...entries];
  for (let file = queue.shift(); file; file = queue.shift()) {
    for (const spec of specifiers(file)) {
      const target = resolveLocal(file, spec);
      if (target && !seen.has(target)) {
        seen.set(target, file);
        queue.push(target);
      }
    }
  }
  return seen;
}

const proxyFiles = (dir = path.join(SRC, 'proxy')): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? proxyFiles(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : [],
  );

describe('proxy import graph', () => {
  it('finds the imports it is meant to find (the walker itself works)', () => {
    const graph = walk([path.join(SRC, 'cli', 'index.ts')]);
    expect([...graph.keys()].some((f) => f.startsWith(path.join(SRC, 'storage')))).toBe(true);
    expect(specifiers(path.join(SRC, 'main.ts'))).toEqual(
      expect.arrayContaining(['./proxy/main.js', './cli/index.js']),
    );
  });

  it('nothing reachable from src/proxy/** is storage, provider, http or cli code', () => {
    const entries = proxyFiles();
    expect(entries).toEqual(
      expect.arrayContaining([path.join(SRC, 'proxy', 'main.ts'), path.join(SRC, 'proxy', 'index.ts')]),
    );
    const graph = walk(entries);
    const bad = [...graph].filter(([file]) => FORBIDDEN.some((dir) => file.startsWith(dir)));
    expect(bad.map(([file, by]) => `${path.relative(ROOT, file)} (imported by ${path.relative(ROOT, by)})`)).toEqual(
      [],
    );
  });

  it('src/main.ts has no static imports: `proxy` is dispatched before the CLI (and its storage) loads', () => {
    const text = readFileSync(path.join(SRC, 'main.ts'), 'utf8');
    expect(text).not.toMatch(/^\s*import\s[^(]/m);
    expect(text.indexOf("import('./proxy/main.js')")).toBeGreaterThan(0);
    expect(text.indexOf("import('./proxy/main.js')")).toBeLessThan(text.indexOf("import('./cli/index.js')"));
  });
});
