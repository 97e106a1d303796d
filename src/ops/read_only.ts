// The shared start of the read-only ops endpoints (/healthz, /readyz, /metrics).
import type { Context } from 'koa';

/**
 * Marks the answer not cacheable (a probe or scrape must see the current state) and refuses any
 * method but GET and HEAD with 405 and an Allow header. Returns false when it answered the 405,
 * so the caller stops there.
 */
export function startReadOnly(ctx: Context): boolean {
  ctx.set('Cache-Control', 'no-store');
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return true;
  ctx.set('Allow', 'GET, HEAD');
  ctx.status = 405;
  ctx.body = { error: 'method_not_allowed' };
  return false;
}
