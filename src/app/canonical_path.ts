// One spelling per path, decided once, before any front check (rate limits, the registration
// guard, the resource pre-checks) or any router looks at ctx.path.
//
// oidc-provider 9's router (node_modules/oidc-provider/lib/helpers/router.js) folds the case of a
// route's fixed segments and drops one trailing slash, so `/Register`, `/REGISTER` and `/register/`
// all reach registration; middleware comparing ctx.path as a string would let those through
// unchecked. Here every request path is put in the one form the checks and routers expect:
//
// - percent-encoded unreserved characters are decoded and other escapes get upper-case hex
//   (RFC 3986 §6.2.2.1–2: the same URI either way), so `/%72egister` is `/register`;
// - empty segments go (duplicate and trailing slashes), so `//register` and `/register/` are `/register`;
// - the fixed segments of a provider route are spelled as declared, so `/Register` is `/register`;
//   route parameters (client ids, interaction uids) keep their case;
// - `.` and `..` segments are refused: browsers resolve them before sending, nothing here resolves
//   them, and a path that means something else after resolution is not worth guessing about.
//
// Our own routers (@koa/router) are built case-sensitive and strict, so after this step every
// handler matches exactly the spelling the checks compared.
import type { Middleware } from 'koa';

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** ASCII-only lower case: the provider's fold never maps a non-ASCII character onto ASCII either. */
const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

export type CanonicalPath = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Route templates as oidc-provider declares them (`:name` segments are parameters). Fixed segments
 * must be lower case, as every route of this server is.
 */
export function pathCanonicaliser(templates: readonly string[]): (raw: string) => CanonicalPath {
  const parsed = templates.map((t) => t.split('/').filter(Boolean));
  for (const t of parsed) {
    for (const s of t) if (!s.startsWith(':') && s !== asciiLower(s)) throw new Error(`route ${t} is not lower case`);
  }
  return (raw) => {
    if (!raw.startsWith('/')) return { ok: true, path: raw };
    const decoded = raw.replace(/%([0-9A-Fa-f]{2})/g, (encoded, hex: string) => {
      const char = String.fromCharCode(Number.parseInt(hex, 16));
      return UNRESERVED.test(char) ? char : encoded.toUpperCase();
    });
    const segments = decoded.split('/').filter(Boolean);
    if (segments.some((s) => s === '.' || s === '..')) {
      return { ok: false, reason: 'the request path must not contain . or .. segments' };
    }
    const route = parsed.find(
      (t) =>
        t.length === segments.length && t.every((s, i) => s.startsWith(':') || s === asciiLower(segments[i] ?? '')),
    );
    const spelled = route ? segments.map((s, i) => (route[i]?.startsWith(':') ? s : (route[i] as string))) : segments;
    return { ok: true, path: `/${spelled.join('/')}` };
  };
}

export function canonicalPath(templates: readonly string[]): Middleware {
  const canonicalise = pathCanonicaliser(templates);
  return async (ctx, next) => {
    const result = canonicalise(ctx.path);
    if (!result.ok) {
      ctx.status = 400;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'invalid_request', error_description: result.reason };
      return;
    }
    // Setting ctx.path keeps the query string; ctx.originalUrl keeps what was sent, for the log.
    if (result.path !== ctx.path) ctx.path = result.path;
    await next();
  };
}
