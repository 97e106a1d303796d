// CSRF tokens for our forms: an HMAC of the interaction id and a random per-browser cookie, so a
// token is useless without both the cookie and the interaction (double submit, signed).
import { createHmac, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { constantTimeEqual } from '../lib/constant_time.js';
import { cookieScope } from './base_path.js';

export type Csrf = ReturnType<typeof createCsrf>;

export function createCsrf(secret: string, secure: boolean, base = '') {
  // Scoped to the issuer's path; __Host- only where Path=/ is possible (src/http/base_path.ts).
  const scope = cookieScope(base);
  const cookieName = secure ? `${scope.hostPrefix ? '__Host-' : '__Secure-'}mcp_csrf` : 'mcp_csrf';
  const cookieOptions = {
    httpOnly: true,
    sameSite: 'lax' as const,
    secure,
    path: scope.path,
    signed: false,
    overwrite: true,
  };

  const mac = (nonce: string, scope: string) =>
    createHmac('sha256', secret).update(`${nonce}\0${scope}`).digest('base64url');

  return {
    /** The token to embed in a form for `scope` (an interaction id); sets the cookie when missing. */
    issue(ctx: Context, scope: string): string {
      let nonce = ctx.cookies.get(cookieName);
      if (!nonce || !/^[A-Za-z0-9_-]{43}$/.test(nonce)) {
        nonce = randomBytes(32).toString('base64url');
        ctx.cookies.set(cookieName, nonce, cookieOptions);
      }
      return mac(nonce, scope);
    },
    verify(ctx: Context, scope: string, token: unknown): boolean {
      const nonce = ctx.cookies.get(cookieName);
      if (!nonce || typeof token !== 'string' || token.length !== 43) return false;
      return constantTimeEqual(token, mac(nonce, scope));
    },
  };
}
