// Which language a page is shown in: an explicit choice first (?lang= on any page, kept in a cookie so
// it holds across the sign-in, consent and form posts), then the browser's Accept-Language (with its
// q-values, negotiated by Koa's ctx.acceptsLanguages), then English.
import type { Context } from 'koa';
import { DEFAULT_LOCALE, isLocale, LOCALES, type Locale } from './catalogue.js';

export const LANG_COOKIE = 'mcp_lang';
export const LANG_PARAM = 'lang';
const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;

/** The language of this request's page; sets the cookie when the request makes a valid choice. */
export function negotiateLocale(ctx: Context): Locale {
  const cached = ctx.state.locale as Locale | undefined;
  if (cached) return cached;
  const locale = chosen(ctx) ?? remembered(ctx) ?? fromHeader(ctx);
  ctx.state.locale = locale;
  return locale;
}

function chosen(ctx: Context): Locale | undefined {
  const value = ctx.query[LANG_PARAM];
  if (!isLocale(value)) return undefined;
  // Not a secret and read by no script, but HttpOnly anyway; Lax so it is sent when the agent's
  // authorization request brings the browser back. Secure whenever Koa knows the request is https.
  ctx.cookies.set(LANG_COOKIE, value, {
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.secure,
    // The issuer's path when it has one (put in ctx.state by src/http/base_path.ts).
    path: (ctx.state.basePath as string | undefined) || '/',
    maxAge: ONE_YEAR_MS,
    signed: false,
    overwrite: true,
  });
  return value;
}

function remembered(ctx: Context): Locale | undefined {
  const value = ctx.cookies.get(LANG_COOKIE, { signed: false });
  return isLocale(value) ? value : undefined;
}

function fromHeader(ctx: Context): Locale {
  // accepts (negotiator) honours q-values, q=0 and prefixes ("ja-JP" matches "ja"); with no
  // header it answers the first offer, English.
  const best = ctx.acceptsLanguages([...LOCALES]);
  return isLocale(best) ? best : DEFAULT_LOCALE;
}

/**
 * Where each switcher link points: this page with lang=<locale> when it was a GET (a query-only
 * relative link: the path, which a request like "GET //evil.example/" controls, is never echoed
 * into an href); after a form post (a sign-in error, say) the page the form belongs to, since the
 * post's own URL cannot be fetched.
 */
export function switchTarget(ctx: Context): string {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') {
    const params = new URLSearchParams(ctx.querystring);
    params.delete(LANG_PARAM);
    const rest = params.toString();
    return rest ? `?${rest}&` : '?';
  }
  const interaction = /^(\/interaction\/[A-Za-z0-9_-]{1,64})\/[a-z]+$/.exec(ctx.path);
  if (interaction?.[1]) return `${interaction[1]}?`;
  if (ctx.path === '/account/login') return '/account/login?';
  return ctx.path.startsWith('/admin') ? '/admin?' : '/account?';
}
