import type { Middleware } from 'koa';

/** Headers every response carries, API or page. */
export function securityHeaders(hsts: boolean): Middleware {
  return async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    if (hsts) ctx.set('Strict-Transport-Security', 'max-age=31536000');
    await next();
    if (ctx.response.is('html')) {
      ctx.set('X-Frame-Options', 'DENY');
      if (!ctx.response.get('Content-Security-Policy')) {
        ctx.set(
          'Content-Security-Policy',
          "default-src 'none'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        );
      }
    }
  };
}
