// Server-rendered pages. nunjucks escapes every {{ value }} by default; nothing is marked safe.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'koa';
import nunjucks from 'nunjucks';

export function viewsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const candidate = path.resolve(here, up, 'views');
    if (existsSync(path.join(candidate, 'layout.njk'))) return candidate;
  }
  throw new Error('views directory not found');
}

export type Views = ReturnType<typeof createViews>;

export function createViews(dir: string = viewsDir()) {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(dir, { noCache: false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  const css = readFileSync(path.join(dir, 'static', 'app.css'));
  return {
    render(ctx: Context, template: string, vars: Record<string, unknown>, status = 200): void {
      ctx.status = status;
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = env.render(template, vars);
      pageHeaders(ctx);
    },
    css,
  };
}

/**
 * Headers for every HTML page: no caching, no framing, a CSP that allows only our stylesheet.
 * No form-action: after the consent POST the browser is redirected to the agent's redirect URI
 * (loopback, https or a private-use scheme), and browsers apply form-action to that redirect.
 */
export function pageHeaders(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  ctx.set(
    'Content-Security-Policy',
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'",
  );
  ctx.set('X-Frame-Options', 'DENY');
}
