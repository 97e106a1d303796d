// The shared start of the read-only ops endpoints (/healthz, /readyz, /metrics).
import type { Context } from 'koa';
import { sendError } from '../web/errors.js';

/**
 * Marks the answer not cacheable (a probe or scrape must see the current state) and refuses any
 * method but GET and HEAD with 405 and an Allow header. Returns false when it answered the 405,
 * so the caller stops there.
 */
export function startReadOnly(ctx: Context): boolean {
  ctx.set('Cache-Control', 'no-store');
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return true;
  sendError(ctx, {
    status: 405,
    error: 'method_not_allowed',
    description: 'use GET or HEAD',
    headers: { Allow: 'GET, HEAD' },
  });
  return false;
}
