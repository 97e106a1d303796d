// docs/configuration.md is generated from the setting schemas; these tests keep it and the
// schemas honest: the committed file is what the generator writes now, and every setting says
// what it is.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderConfigDocs } from '../../src/config/docs.js';
import { proxySettings } from '../../src/config/proxy_settings.js';
import { settingDefaults, settingGroups, settingLeaves } from '../../src/config/read.js';
import { serverSettings } from '../../src/config/server_settings.js';

const committed = () => readFileSync(path.join(import.meta.dirname, '../../docs/configuration.md'), 'utf8');

const processes = [
  ['server', serverSettings, 'MCP_OAUTH_'],
  ['proxy', proxySettings, 'MCP_PROXY_'],
] as const;

describe('configuration reference', () => {
  it('docs/configuration.md is what `npm run docs:config` writes from the schemas now', () => {
    // When this fails: run `npm run docs:config` and commit docs/configuration.md.
    expect(committed()).toBe(renderConfigDocs());
  });

  it.each(processes)(
    'every %s setting has its variable, a description and a place in the reference',
    (_, tree, prefix) => {
      const docs = renderConfigDocs();
      const leaves = settingLeaves(tree);
      expect(leaves.length).toBeGreaterThan(10);
      const names = leaves.map((l) => l.meta.env);
      expect(new Set(names).size).toBe(names.length);
      for (const { meta, description } of leaves) {
        expect(meta.env).toMatch(new RegExp(`^${prefix}[A-Z0-9_]+$`));
        // A sentence or more, not a placeholder.
        expect(description, meta.env).toMatch(/^\S.{10,}\.$/s);
        expect(meta.values, meta.env).not.toBe('');
        expect(docs).toContain(`\`${meta.env}\``);
        if (meta.secret) {
          // Secrets never have a default (a default secret would be a published one).
          expect(meta.default, meta.env).toBeUndefined();
          expect(docs).toContain(`\`${meta.env}_FILE\``);
        }
      }
      for (const group of settingGroups(tree)) {
        expect(group.title).not.toBe('');
        expect(group.description, group.title).toMatch(/\.$/);
      }
    },
  );

  it.each(processes)('every %s default passes its own validation', (_, tree) => {
    // settingDefaults parses each declared default with the setting's own schema; it throws on a
    // default the setting itself would refuse.
    expect(() => settingDefaults(tree)).not.toThrow();
  });
});
