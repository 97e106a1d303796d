// Looking texts up. Templates name keys: t('login.title'). Handlers either pass a Message (msg(key,
// params)) or, where the same English sentence also answers the JSON API or comes from code shared
// with it, the English text itself: texts under the "server." keys are found by their English
// wording (with {placeholders} matched as wildcards) and shown in the page's language, gettext-style.
import { type Catalogues, DEFAULT_LOCALE, type Locale } from './catalogue.js';

export type Params = Readonly<Record<string, string | number>>;

/** A text to show in the reader's language: a catalogue key and its placeholder values. */
export interface Message {
  readonly key: string;
  readonly params?: Params;
}

export function msg(key: string, params?: Params): Message {
  return params ? { key, params } : { key };
}

export function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as Message).key === 'string';
}

/** The prefix of keys whose English text handlers may send instead of the key. */
export const SERVER_PREFIX = 'server.';

const PLACEHOLDER = /\{([A-Za-z0-9_]+)\}/g;

interface Pattern {
  key: string;
  regex: RegExp;
  names: string[];
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export type Translator = ReturnType<typeof createTranslator>;

export function createTranslator(catalogues: Catalogues) {
  const english = catalogues[DEFAULT_LOCALE];
  const exact = new Map<string, string>();
  const patterns: Pattern[] = [];
  for (const [key, text] of Object.entries(english)) {
    if (!key.startsWith(SERVER_PREFIX)) continue;
    const names = [...text.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
    if (names.length === 0) {
      exact.set(text, key.replace(/\.(one|other)$/, ''));
      continue;
    }
    const source = text
      .split(PLACEHOLDER)
      .map((part, i) => (i % 2 === 1 ? '(.+?)' : escapeRegex(part)))
      .join('');
    patterns.push({ key: key.replace(/\.(one|other)$/, ''), regex: new RegExp(`^${source}$`, 's'), names });
  }
  const plurals = new Map<Locale, Intl.PluralRules>();
  const pluralOf = (locale: Locale, n: number) => {
    const rules = plurals.get(locale) ?? new Intl.PluralRules(locale);
    plurals.set(locale, rules);
    return rules.select(n);
  };

  const lookup = (locale: Locale, key: string): string | undefined => catalogues[locale][key] ?? english[key];

  /** The text of `key` in `locale` (English when missing there; the key itself when unknown). */
  function t(locale: Locale, key: string, params: Params = {}): string {
    let text = lookup(locale, key);
    if (text === undefined && typeof params.n === 'number') {
      // Plural texts are stored as key.one / key.other (CLDR categories; ja and ko only use other).
      text = lookup(locale, `${key}.${pluralOf(locale, params.n)}`) ?? lookup(locale, `${key}.other`);
    }
    if (text === undefined) return key;
    return text.replace(PLACEHOLDER, (whole, name: string) => (name in params ? String(params[name]) : whole));
  }

  /** An English text sent by a handler, in `locale` when the catalogue knows it; else unchanged. */
  function text(locale: Locale, englishText: string): string {
    if (locale === DEFAULT_LOCALE) return englishText;
    const key = exact.get(englishText);
    if (key) return t(locale, key);
    for (const p of patterns) {
      const m = p.regex.exec(englishText);
      if (!m) continue;
      const params: Record<string, string | number> = {};
      p.names.forEach((name, i) => {
        const value = m[i + 1] ?? '';
        params[name] = name === 'n' && /^\d+$/.test(value) ? Number(value) : value;
      });
      return t(locale, p.key, params);
    }
    return englishText;
  }

  /** Whether an English handler text is one the catalogue has (and so shows in every language). */
  function knows(englishText: string): boolean {
    return exact.has(englishText) || patterns.some((p) => p.regex.test(englishText));
  }

  /** A Message, an English handler text, or nothing, as the reader should see it. */
  function show(locale: Locale, value: unknown): string | undefined {
    if (isMessage(value)) return t(locale, value.key, value.params);
    if (typeof value === 'string') return text(locale, value);
    return undefined;
  }

  return { t, text, show, knows };
}
