// Counted things read right in every language: "1 second", not "1 seconds".
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LOCALE, LOCALES, loadCatalogues } from '../../src/i18n/catalogue.js';
import { createTranslator } from '../../src/i18n/translate.js';
import { throttledMessage } from '../../src/web/rate_limit.js';

const catalogues = loadCatalogues(path.resolve(import.meta.dirname, '../../locales'));
const en = catalogues[DEFAULT_LOCALE];
const translator = createTranslator(catalogues);

describe('plural forms', () => {
  it('every English text that counts something has a singular and a plural form', () => {
    const counted = Object.entries(en)
      .filter(([, text]) => /\{n\} [a-z]+/.test(text))
      .map(([key]) => key.replace(/\.(one|other)$/, ''));
    expect(counted.length).toBeGreaterThan(5);
    const missing = [...new Set(counted)].filter((key) => !(`${key}.one` in en && `${key}.other` in en));
    expect(missing).toEqual([]);
  });

  it.each([
    [1, 'Too many failed sign-in attempts. Try again in 1 second.'],
    [2, 'Too many failed sign-in attempts. Try again in 2 seconds.'],
    [119, 'Too many failed sign-in attempts. Try again in 119 seconds.'],
    [120, 'Too many failed sign-in attempts. Try again in 2 minutes.'],
  ])('the sign-in throttle says %i seconds as "%s"', (seconds, text) => {
    expect(throttledMessage(seconds)).toBe(text);
  });

  it.each(LOCALES.filter((l) => l !== DEFAULT_LOCALE))(
    'the throttle text is translated into %s for 1 and many',
    (locale) => {
      for (const seconds of [1, 30, 600]) {
        const shown = translator.text(locale, throttledMessage(seconds));
        expect(shown).not.toMatch(/[A-Za-z]{3}/);
        expect(shown).toContain(String(seconds < 120 ? seconds : Math.ceil(seconds / 60)));
      }
    },
  );
});
