// The why lives in docs/, and comments point at it by heading. This test keeps those pointers
// true: no comment cites a document or an issue tracker a reader of the repository cannot open,
// every `docs/<file>.md#<anchor>` (in code or in docs/) names a heading that exists, and every
// relative link and repository path named in docs/ exists.
//
// migrations/ is not scanned: an applied migration is checksummed (src/storage/migrate.ts), so
// even a comment in one can never change.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DOCS = path.join(ROOT, 'docs');
const SCANNED = ['src', 'test', 'bench', 'scripts', 'examples'];
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'results']);
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs|sh|conf|yml|yaml)$|Dockerfile$/;
const THIS_FILE = path.join(ROOT, 'test/docs/links.test.ts');

/** Citations of a design document outside the repository, or of an issue number. */
const UNREADABLE = [/\bPITFALLS\b/, /\bshared\/[A-Z-]+\.md\b/, /\bissues? #?\d+/i];

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) out.push(...walk(full));
    } else if (SOURCE.test(entry.name)) {
      out.push(full);
    }
  }
  return out;
}

const rel = (file: string) => path.relative(ROOT, file);
const sourceFiles = () => SCANNED.flatMap((d) => walk(path.join(ROOT, d))).filter((f) => f !== THIS_FILE);
const docFiles = () =>
  readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join(DOCS, f));

/** GitHub's heading anchor: link text kept, lower case, punctuation dropped, each space a hyphen. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor a Markdown file offers: its headings (outside code fences), numbered on repeats. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? undefined : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

const anchorCache = new Map<string, Set<string> | undefined>();
function anchorsOf(file: string): Set<string> | undefined {
  if (!anchorCache.has(file)) {
    anchorCache.set(file, existsSync(file) ? anchors(readFileSync(file, 'utf8')) : undefined);
  }
  return anchorCache.get(file);
}

/** Why `target` (a file, with an optional #anchor) does not resolve, or undefined when it does. */
function brokenTarget(file: string | undefined, anchor: string | undefined): string | undefined {
  if (file === undefined || !existsSync(file)) return 'no such file';
  if (anchor === undefined || anchor === '') return undefined;
  if (!file.endsWith('.md')) return undefined;
  return anchorsOf(file)?.has(anchor) ? undefined : `no heading with anchor #${anchor}`;
}

describe('docs/ and the comments that cite it', () => {
  it('derives anchors the way GitHub does (the checker itself works)', () => {
    expect(slug('Refresh-token reuse and racing agents')).toBe('refresh-token-reuse-and-racing-agents');
    expect(slug('RFC 9700 (security best current practice)')).toBe('rfc-9700-security-best-current-practice');
    expect(slug('Secrets are never logged, echoed or taken on a command line')).toBe(
      'secrets-are-never-logged-echoed-or-taken-on-a-command-line',
    );
    expect(slug("What Claude's `scope` does")).toBe('what-claudes-scope-does');
    expect(slug('MCP 2026-07-28')).toBe('mcp-2026-07-28');
    expect([...anchors('# A\n## B\n```\n# not a heading\n```\n## B\n')]).toEqual(['a', 'b', 'b-1']);
  });

  it('no comment cites a document outside the repository or an issue number', () => {
    const offenders: string[] = [];
    for (const file of sourceFiles()) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (UNREADABLE.some((re) => re.test(line))) offenders.push(`${rel(file)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders, 'point at docs/pitfalls.md#…, docs/design.md#… or an RFC section instead').toEqual([]);
  });

  it('every docs/*.md#anchor cited in the code names an existing heading', () => {
    const broken: string[] = [];
    let cited = 0;
    for (const file of sourceFiles()) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        for (const m of line.matchAll(/\bdocs\/([\w.-]+\.md)(?:#([\w-]+))?/g)) {
          cited++;
          const why = brokenTarget(path.join(DOCS, m[1] ?? ''), m[2]);
          if (why) broken.push(`${rel(file)}:${i + 1}: ${m[0]}: ${why}`);
        }
      });
    }
    expect(cited).toBeGreaterThan(0);
    expect(broken).toEqual([]);
  });

  it('every relative link in docs/ reaches an existing file and heading', () => {
    const broken: string[] = [];
    for (const file of docFiles()) {
      const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1] ?? '';
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const [filePart = '', anchor] = target.split('#');
        const resolved = filePart === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(filePart));
        const why = brokenTarget(resolved, anchor);
        if (why) broken.push(`${rel(file)}: (${target}): ${why}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every repository path docs/ names in code spans exists', () => {
    const missing: string[] = [];
    for (const file of docFiles()) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(
        /`((?:src|test|bench|scripts|examples|migrations|views|locales|docs)\/[^`\s*<>]*)`/g,
      )) {
        const named = (m[1] ?? '').replace(/\/$/, '');
        if (!existsSync(path.join(ROOT, named))) missing.push(`${rel(file)}: ${m[1]}`);
      }
    }
    expect(missing, 'a file was moved or renamed: update docs/').toEqual([]);
  });

  it('docs/ holds the design notes the code points at', () => {
    for (const name of ['design.md', 'pitfalls.md', 'requirements.md']) {
      expect(statSync(path.join(DOCS, name)).isFile(), name).toBe(true);
    }
  });
});
