// docs/pitfalls.md#no-cors-on-registration: oidc-provider answers no CORS on the registration endpoint and 404s its
// preflight; browser-based agents (MCP Inspector) register from another origin. Registration is
// not credentialed by cookies, so any origin may call it.
import cors from '@koa/cors';
import type { Middleware } from 'koa';

export function registrationCors(path: string): Middleware {
  const handler = cors({
    origin: '*',
    allowMethods: ['GET', 'POST', 'PUT', 'DELETE'],
    allowHeaders: ['Content-Type', 'Authorization'],
    maxAge: 3600,
    credentials: false,
  });
  return async (ctx, next) => {
    if (ctx.path !== path && !ctx.path.startsWith(`${path}/`)) return next();
    return handler(ctx, next);
  };
}
