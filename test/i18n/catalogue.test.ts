// The catalogues are complete and consistent: every language has every key with the same
// placeholders, every key a template or handler names exists, and every English text a handler
// sends to a page is one the catalogue can translate.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LOCALE, LOCALES, loadCatalogues } from '../../src/i18n/catalogue.js';
import { durationMessage } from '../../src/i18n/duration.js';
import { createTranslator, SERVER_PREFIX } from '../../src/i18n/translate.js';
import { throttledMessage } from '../../src/web/rate_limit.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const catalogues = loadCatalogues(path.join(ROOT, 'locales'));
const en = catalogues[DEFAULT_LOCALE];
const translator = createTranslator(catalogues);
const placeholders = (text: string) => [...text.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]).sort();

function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext))
    .map((e) => path.join(e.parentPath, e.name));
}

/** A key exists when it is in English as is, or as a plural (key.one / key.other). */
const known = (key: string) => key in en || `${key}.other` in en;

describe('catalogues', () => {
  it.each(LOCALES.filter((l) => l !== DEFAULT_LOCALE))('%s has exactly the English keys', (locale) => {
    const keys = Object.keys(catalogues[locale]);
    expect(Object.keys(en).filter((k) => !keys.includes(k))).toEqual([]);
    expect(keys.filter((k) => !(k in en))).toEqual([]);
  });

  it.each(LOCALES)('%s keeps every placeholder of the English text', (locale) => {
    const wrong = Object.entries(catalogues[locale])
      .filter(([key, text]) => placeholders(text).join() !== placeholders(en[key] ?? '').join())
      .map(([key]) => key);
    expect(wrong).toEqual([]);
  });

  it.each(LOCALES.filter((l) => l !== DEFAULT_LOCALE))('%s is translated, not copied from English', (locale) => {
    // Texts that are the same in every language: codes, abbreviations, placeholders only.
    const same = new Set(['col.ip', 'server.via.cli']);
    const copied = Object.entries(catalogues[locale])
      .filter(([key, text]) => !same.has(key) && /[A-Za-z]{3}/.test(text.replace(/\{[^}]*\}/g, '')) && text === en[key])
      .map(([key]) => key);
    expect(copied).toEqual([]);
  });

  it('Japanese sentences use the polite です/ます style', () => {
    const plain = Object.entries(catalogues.ja)
      .filter(([, text]) => text.endsWith('。') && !/(です|ます|ません|でした|ました|ください)。$/.test(text))
      .map(([key, text]) => `${key}: ${text}`);
    expect(plain).toEqual([]);
  });

  it('Korean sentences use the formal 합니다 style throughout', () => {
    const other = Object.entries(catalogues.ko)
      .filter(([, text]) => /[.]$/.test(text) && !/(니다|십시오)\.$/.test(text))
      .map(([key, text]) => `${key}: ${text}`);
    expect(other).toEqual([]);
    expect(Object.values(catalogues.ko).filter((t) => /(해요|어요|아요|세요)[.?]?$/.test(t))).toEqual([]);
  });

  it('gives each English handler text one key, so matching by wording is unambiguous', () => {
    const texts = Object.entries(en)
      .filter(([k]) => k.startsWith(SERVER_PREFIX) && !k.endsWith('.one'))
      .map(([, t]) => t);
    expect(texts.length).toBe(new Set(texts).size);
  });
});

describe('key usage', () => {
  it('every key a template names is in the catalogue', () => {
    const missing: string[] = [];
    for (const file of filesUnder(path.join(ROOT, 'views'), '.njk')) {
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(/\b(?:t|tm)\(\s*'([^']+)'\s*(\+\s*([a-z]+))?/g)) {
        const key = m[1] as string;
        if (m[2]) {
          // t('grants.state.' + s): the loop values are listed next to it in the template.
          const values = /\[([^\]]+)\]/.exec(source.slice(Math.max(0, (m.index ?? 0) - 300), m.index))?.[1] ?? '';
          const options = [...values.matchAll(/'([^']+)'/g)].map((v) => `${key}${v[1]}`);
          expect(options.length).toBeGreaterThan(0);
          missing.push(...options.filter((k) => !known(k)).map((k) => `${path.basename(file)}: ${k}`));
        } else if (!known(key)) {
          missing.push(`${path.basename(file)}: ${key}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('every key the server code names (msg, durations) is in the catalogue', () => {
    const missing: string[] = [];
    let found = 0;
    for (const file of filesUnder(path.join(ROOT, 'src'), '.ts')) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\bmsg\(\s*'([^']+)'/g)) {
        found += 1;
        if (!known(m[1] as string)) missing.push(`${path.relative(ROOT, file)}: ${m[1]}`);
      }
    }
    expect(found).toBeGreaterThan(5);
    for (const seconds of [1, 59, 60, 3600, 86_400, 90 * 86_400]) {
      const { key } = durationMessage(seconds);
      if (!known(key)) missing.push(key);
    }
    expect(missing).toEqual([]);
  });

  it('every English text the pages get from handlers is translated', () => {
    // The literal texts handlers put on pages: HttpError descriptions, form errors, headings, notices.
    const sources = [
      'src/interactions',
      'src/account',
      'src/admin/console.ts',
      'src/admin/console_pages.ts',
      'src/admin/audit_page.ts',
      'src/admin/grant_filter.ts',
      'src/web/errors.ts',
    ];
    const texts = new Set<string>();
    for (const source of sources) {
      const full = path.join(ROOT, source);
      const files = source.endsWith('.ts') ? [full] : filesUnder(full, '.ts');
      for (const file of files) {
        const code = readFileSync(file, 'utf8');
        for (const m of code.matchAll(/HttpError\(\s*[^,]+,\s*'[^']+',\s*(['`])((?:(?!\1).)+)\1/g))
          texts.add(m[2] as string);
        for (const m of code.matchAll(/\b(?:error|title|problem|heading|message): (['`])((?:(?!\1).)+)\1/g))
          texts.add(m[2] as string);
        for (const m of code.matchAll(/^\s+[a-z_]+: '([A-Z][^']+)',$/gm)) texts.add(m[1] as string);
        for (const m of code.matchAll(/^\s+'?[a-z-]+'?: '([A-Za-z][^']+)',$/gm)) texts.add(m[1] as string);
      }
    }
    texts.add(throttledMessage(30));
    texts.add(throttledMessage(600));
    const sample = (text: string) => text.replace(/\$\{[^}]+\}/g, 'someone');
    // Sentences only: single words there are codes (event names, CSS widths), not page text.
    const untranslated = [...texts]
      .map(sample)
      .filter((text) => /\s/.test(text) && translator.text('ja', text) === text);
    expect(untranslated).toEqual([]);
    expect(texts.size).toBeGreaterThan(20);
  });
});
