// Server-rendered pages. nunjucks escapes every {{ value }} by default; only already-escaped markup (the iso
// filter, tm() sentences) is marked safe.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'koa';
import nunjucks from 'nunjucks';
import { createI18n, type I18n } from '../i18n/index.js';
import { isolatedHtml, isolatedText } from '../i18n/markup.js';
import { INTERACTION_PREFIX } from '../provider/index.js';
import { baseOf } from './base_path.js';

export function viewsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const candidate = path.resolve(here, up, 'views');
    if (existsSync(path.join(candidate, 'layout.njk'))) return candidate;
  }
  throw new Error('views directory not found');
}

export type Views = ReturnType<typeof createViews>;

/** Renders views/*.njk in the reader's language (src/i18n): templates get t(), tm(), tx(), sd() and the switcher's links. */
export function createViews(dir: string = viewsDir(), i18n: I18n = createI18n()) {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(dir, { noCache: false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  // `| iso` on every client- or user-supplied string (agent names, usernames, URIs, hosts): a name
  // holding right-to-left or bidi control characters (U+202E and friends) stays inside its own box
  // and can neither reorder our text around it nor be reordered by it (src/i18n/markup.ts).
  env.addFilter('iso', isolate);
  // Inside an <option>, where the parser drops elements: the text with Unicode isolate marks.
  env.addFilter('isotext', (value: unknown) =>
    value === undefined || value === null ? '' : isolatedText(String(value)),
  );
  // `| when` on a time from formatWhen ("2026-01-31 09:05 UTC"): a <time> element with the
  // machine-readable instant. Times stay in UTC, said on every one: showing the reader's zone would
  // need a script, and the pages' policy allows none (docs/design.md on the pages' CSP).
  env.addFilter('when', (value: unknown) => {
    const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d) UTC$/.exec(String(value ?? ''));
    if (!m) return value ?? '';
    return new nunjucks.runtime.SafeString(`<time datetime="${m[1]}T${m[2]}Z">${m[1]} ${m[2]} UTC</time>`);
  });
  const css = readFileSync(path.join(dir, 'static', 'app.css'));
  const favicon = readFileSync(path.join(dir, 'static', 'favicon.svg'));
  return {
    render(ctx: Context, template: string, vars: Record<string, unknown>, status = 200): void {
      ctx.status = status;
      ctx.type = 'text/html; charset=utf-8';
      // Every root-relative link, form action and stylesheet URL starts with the issuer's path.
      const page = i18n.pageVars(ctx, { ...vars, base: baseOf(ctx) });
      ctx.body = env.render(template, page);
      pageHeaders(ctx);
      ctx.set('Content-Language', String(page.locale));
      ctx.vary('Accept-Language');
      ctx.vary('Cookie');
    },
    css,
    favicon,
    i18n,
  };
}

/** The text escaped, in a <bdi> when it holds right-to-left or bidi control characters. */
export function isolate(value: unknown): nunjucks.runtime.SafeString | string {
  if (value === undefined || value === null || value === '') return '';
  return new nunjucks.runtime.SafeString(isolatedHtml(String(value)));
}

/**
 * Headers for every HTML page: no caching, no framing, a CSP that allows only our stylesheet, and
 * forms that may only submit to this server (form-action 'self').
 *
 * Except the login and consent pages (under /interaction/): their forms are answered by a redirect
 * chain that ends at the agent's redirect URI (loopback http, https on the agent's site, or a
 * private-use scheme such as cursor://), and browsers apply form-action to every redirect after a
 * submission (CSP Level 3 §6.4.1; Chromium blocks the final hop, tested in
 * test/browser/form_action.test.ts). 'self' there would strand every agent on the consent page.
 */
export function pageHeaders(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  // A handler may have set a narrower-purpose policy first (the consent page allows the verified
  // agent's logo origin); anything else gets this one.
  if (!ctx.response.get('Content-Security-Policy')) {
    const forms = formsLeaveSite(ctx.path) ? '' : "; form-action 'self'";
    ctx.set(
      'Content-Security-Policy',
      `default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'${forms}`,
    );
  }
  ctx.set('X-Frame-Options', 'DENY');
}

/** Pages whose forms end at the agent's redirect URI: the OAuth interaction (login, consent). */
function formsLeaveSite(path: string): boolean {
  return path === INTERACTION_PREFIX || path.startsWith(`${INTERACTION_PREFIX}/`);
}
