// Sign-in sessions of the account and admin pages: a random id in an HttpOnly, SameSite=Strict
// cookie (__Host- prefixed over https), looked up by its hash. Expired sessions and disabled users
// have no session. A session ends at the earlier of its absolute lifetime (MCP_OAUTH_SESSION_TTL)
// and an idle timeout (MCP_OAUTH_CONSOLE_IDLE_TIMEOUT): the stored expiry is the idle deadline,
// moved forward on use but never past the absolute end, so no extra column is needed.
import type { Context, Middleware } from 'koa';
import { epochSeconds } from '../lib/duration.js';
import type { User } from '../storage/users.js';
import type { WebSession } from '../storage/web_sessions.js';
import { basePath, cookieScope } from './base_path.js';
import type { RouteDeps } from './route_deps.js';

export interface SignedIn {
  user: User;
  session: WebSession;
  /** The scope CSRF tokens of this session are bound to. */
  csrfScope: string;
}

export type WebSessions = ReturnType<typeof createWebSessions>;

/** Seconds of activity that move the idle deadline: finer than this is not worth a write. */
const IDLE_STEP = 60;

export function createWebSessions(deps: RouteDeps) {
  const secure = deps.config.issuer.startsWith('https:');
  // Scoped to the issuer's path; __Host- only where Path=/ is possible (src/http/base_path.ts).
  const scope = cookieScope(basePath(deps.config.issuer));
  const cookieName = secure ? `${scope.hostPrefix ? '__Host-' : '__Secure-'}mcp_account` : 'mcp_account';
  const { webSessions, users } = deps.stores;
  const base = {
    httpOnly: true,
    sameSite: 'strict' as const,
    secure,
    path: scope.path,
    signed: false,
    overwrite: true,
  };

  const cookieOf = (ctx: Context) => ctx.cookies.get(cookieName, { signed: false });
  const clearCookie = (ctx: Context) => ctx.cookies.set(cookieName, '', { ...base, maxAge: 0 });

  const { sessionTtl, consoleIdleTimeout } = deps.config;
  const deadline = (createdAt: number, now: number) => Math.min(createdAt + sessionTtl, now + consoleIdleTimeout);

  const lookup = async (ctx: Context): Promise<SignedIn | undefined> => {
    const id = cookieOf(ctx);
    if (!id) return undefined;
    const now = epochSeconds();
    const session = await webSessions.find(id, now);
    const user = session && (await users.findById(session.userId));
    // The absolute end is checked too: a lifetime lowered since the session started applies at once.
    if (!session || !user || user.disabled || session.createdAt + sessionTtl <= now) {
      clearCookie(ctx);
      return undefined;
    }
    // Moved forward at most once a minute per session, not on every page view; pulled back at once
    // when the absolute end comes first.
    const next = deadline(session.createdAt, now);
    if (next < session.expiresAt || next - session.expiresAt >= IDLE_STEP) {
      await webSessions.extend(session.idHash, next);
      session.expiresAt = next;
    }
    return { user, session, csrfScope: `web-session:${session.idHash}` };
  };

  return {
    cookieName,
    /** Puts the signed-in user (if any) in ctx.state.signedIn. */
    load: (async (ctx, next) => {
      ctx.state.signedIn = await lookup(ctx);
      await next();
    }) as Middleware,
    /** Starts a new session for `user`, ending the browser's previous one: the id is never reused. */
    async start(ctx: Context, user: User): Promise<SignedIn> {
      const previous = cookieOf(ctx);
      if (previous) await webSessions.delete(previous);
      const now = epochSeconds();
      const { id, session } = await webSessions.create(user.id, deadline(now, now) - now, now);
      // The cookie lives as long as the session could; the server ends it earlier when it idles.
      ctx.cookies.set(cookieName, id, { ...base, maxAge: sessionTtl * 1000 });
      const signedIn = { user, session, csrfScope: `web-session:${session.idHash}` };
      ctx.state.signedIn = signedIn;
      return signedIn;
    },
    async end(ctx: Context): Promise<void> {
      const id = cookieOf(ctx);
      if (id) await webSessions.delete(id);
      clearCookie(ctx);
      ctx.state.signedIn = undefined;
    },
  };
}

/** What a page may know of a user: never the password hash. */
export function pageUser(user: User): { id: string; username: string; isAdmin: boolean } {
  return { id: user.id, username: user.username, isAdmin: user.isAdmin };
}

export function signedIn(ctx: Context): SignedIn | undefined {
  return ctx.state.signedIn as SignedIn | undefined;
}

/** A local path under /account or /admin to return to after sign-in; anything else is refused. */
export function safeNext(value: unknown, fallback = '/account'): string {
  // No scheme, no "//host", no backslash tricks, no control characters; judged after normalisation
  // so "/account/../authorize" does not pass.
  if (typeof value !== 'string' || value.length > 512 || !/^\/[\x21-\x7e]*$/.test(value) || value.includes('\\')) {
    return fallback;
  }
  const url = URL.parse(value, 'http://local.invalid');
  if (url?.origin !== 'http://local.invalid') return fallback;
  return /^\/(account|admin)(\/|$)/.test(url.pathname) ? url.pathname + url.search : fallback;
}
