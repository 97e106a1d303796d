// The page texts, one JSON catalogue per language in locales/<lang>.json: flat "dotted.key": "text"
// maps with {name} placeholders. English is the reference every other language must match key for key
// (test/i18n/catalogue.test.ts fails otherwise); at run time a missing text falls back to English.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const LOCALES = ['en', 'ja', 'ko'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

/** Each language's name in that language, as the switcher shows it. */
export const LOCALE_NAMES: Readonly<Record<Locale, string>> = { en: 'English', ja: '日本語', ko: '한국어' };

export type Catalogue = Readonly<Record<string, string>>;
export type Catalogues = Readonly<Record<Locale, Catalogue>>;

const catalogueSchema = z.record(z.string().regex(/^[a-z][A-Za-z0-9]*(\.[A-Za-z0-9_-]+)+$/), z.string().min(1));

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/** Finds locales/ both from src/ (tsx, vitest) and from dist/src/ (built). */
export function localesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const candidate = path.resolve(here, up, 'locales');
    if (existsSync(path.join(candidate, `${DEFAULT_LOCALE}.json`))) return candidate;
  }
  throw new Error('locales directory not found');
}

/** Reads and checks every catalogue; a malformed one stops the server at start, not mid-request. */
export function loadCatalogues(dir: string = localesDir()): Catalogues {
  const out = {} as Record<Locale, Catalogue>;
  for (const locale of LOCALES) {
    const file = path.join(dir, `${locale}.json`);
    const parsed = catalogueSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues[0]?.message ?? 'invalid catalogue'}`);
    out[locale] = Object.freeze(parsed.data);
  }
  return Object.freeze(out);
}
