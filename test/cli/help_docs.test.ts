// The help texts point at guides that exist: every docs/ file they name, and every section they
// quote, is in the repository (the README is a short front page now, with no such sections).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROXY_HELP } from '../../src/cli/help_text.js';
import { cliFor } from '../support/cli.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

async function helpTexts(): Promise<[string, string][]> {
  const cli = cliFor();
  const texts: [string, string][] = [['proxy', PROXY_HELP]];
  for (const argv of [[], ['serve'], ['backup']]) {
    const result = await cli.run([...argv, '--help']);
    expect(result.code).toBe(0);
    texts.push([`mcp-oauth ${argv.join(' ')}`, result.out]);
  }
  return texts;
}

describe('help texts', () => {
  it('name no README section, and at least one guide each where they send readers on', async () => {
    for (const [where, text] of await helpTexts()) {
      expect(text, where).not.toMatch(/README[^.]*"/);
      if (where !== 'mcp-oauth serve') expect(text, where).toMatch(/docs\/[a-z-]+\.md/);
    }
  });

  it('name only guides and sections that exist', async () => {
    const named: string[] = [];
    for (const [where, text] of await helpTexts()) {
      const flat = text.replace(/\s+/g, ' ');
      for (const m of flat.matchAll(/(docs\/[a-z-]+\.md)(?: "([^"]+)")?/g)) {
        const file = path.join(ROOT, m[1] as string);
        named.push(m[0]);
        expect(existsSync(file), `${where}: ${m[1]}`).toBe(true);
        if (m[2] !== undefined) {
          const headings = readFileSync(file, 'utf8').match(/^#{2,3} .+$/gm) ?? [];
          expect(
            headings.map((h) => h.replace(/^#+ /, '')),
            `${where}: ${m[0]}`,
          ).toContain(m[2]);
        }
      }
    }
    expect(named).toEqual(
      expect.arrayContaining([
        'docs/configuration.md "Resource proxy"',
        'docs/operating.md "Backups"',
        'docs/operating.md "Health"',
        'docs/proxy.md',
      ]),
    );
  });

  it('say where the database is when MCP_OAUTH_DATA_DIR is not set', async () => {
    const root = (await cliFor().run(['--help'])).out.replace(/\s+/g, ' ');
    expect(root).toContain('./data under the current directory');
  });
});
