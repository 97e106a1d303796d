// The page script that talks to navigator.credentials for passkeys (views/static/passkeys.js),
// served from our origin so the pages' CSP needs only script-src 'self'. Read once at start.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Middleware } from 'koa';

export const PASSKEYS_SCRIPT = '/static/passkeys.js';

export function staticScripts(viewsDir: string): Middleware {
  const body = readFileSync(path.join(viewsDir, 'static', 'passkeys.js'));
  return async (ctx, next) => {
    if (ctx.path !== PASSKEYS_SCRIPT || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = body;
  };
}
