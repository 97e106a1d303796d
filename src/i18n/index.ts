// Pages in the reader's language: the catalogues, the choice of language, and what a template gets.
import type { Context } from 'koa';
import nunjucks from 'nunjucks';
import { type Catalogues, DEFAULT_LOCALE, LOCALE_NAMES, LOCALES, type Locale, loadCatalogues } from './catalogue.js';
import { fillHtml, type Part } from './markup.js';
import { LANG_PARAM, negotiateLocale, switchTarget } from './negotiate.js';
import { createTranslator, type Params } from './translate.js';

export { DEFAULT_LOCALE, isLocale, LOCALES, type Locale } from './catalogue.js';
export { LANG_COOKIE, negotiateLocale } from './negotiate.js';
export { isMessage, type Message, msg } from './translate.js';

/** Handler-supplied page variables that hold a text for the reader (a Message or English text). */
const TEXT_VARS = ['title', 'heading', 'message', 'error', 'notice', 'problem'] as const;

/** What a scope looks like to a template: an English description and maybe others by language. */
interface DescribedScope {
  description?: string;
  descriptions?: Partial<Record<string, string>>;
}

export type I18n = ReturnType<typeof createI18n>;

/**
 * The descriptions `mcp-oauth resources add` gives scopes when the admin names none, by their
 * English text: the pages show them in the reader's language (stored translations still win).
 */
const DEFAULT_SCOPE_PREFIX = 'scope.default.';

export function createI18n(catalogues: Catalogues = loadCatalogues()) {
  const translator = createTranslator(catalogues);
  const defaultScopeKeys = new Map(
    Object.entries(catalogues[DEFAULT_LOCALE])
      .filter(([key]) => key.startsWith(DEFAULT_SCOPE_PREFIX))
      .map(([key, text]) => [text, key]),
  );
  /** A scope's description in `locale`: the admin's, else a default's translation, else the English one. */
  const describe = (locale: Locale, scope: DescribedScope): string => {
    const own = scope.descriptions?.[locale];
    if (own) return own;
    const key = scope.description === undefined ? undefined : defaultScopeKeys.get(scope.description);
    return key ? translator.t(locale, key) : scope.description || '';
  };

  /** The variables every template gets for this request, and the handler's texts translated. */
  function pageVars(ctx: Context, vars: Record<string, unknown>): Record<string, unknown> {
    const locale = negotiateLocale(ctx);
    const t = (key: string, params?: Params) => translator.t(locale, key, params);
    const out: Record<string, unknown> = { ...vars };
    for (const name of TEXT_VARS) {
      if (name in vars) out[name] = translator.show(locale, vars[name]);
    }
    const base = switchTarget(ctx);
    return {
      ...out,
      locale,
      t,
      /** A sentence with emphasised values: escaped throughout, marked safe for nunjucks. */
      tm: (key: string, parts: Record<string, Part> = {}) => {
        const n = parts.n;
        const text = typeof n === 'number' ? translator.t(locale, key, { n }) : translator.t(locale, key);
        return new nunjucks.runtime.SafeString(fillHtml(text, parts));
      },
      /** An English text from a handler (such as "never"), in this language when known. */
      tx: (value: unknown) => translator.show(locale, value) ?? '',
      /** A scope's description in this language, else the English one the admin gave. */
      sd: (scope: DescribedScope) => describe(locale, scope),
      languages: LOCALES.map((code: Locale) => ({
        code,
        name: LOCALE_NAMES[code],
        href: `${base}${LANG_PARAM}=${code}`,
        current: code === locale,
      })),
    };
  }

  return { catalogues, translator, pageVars, describe };
}
