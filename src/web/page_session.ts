// Sign-in sessions of the account and admin pages: a random id in an HttpOnly, SameSite=Strict
// cookie (__Host- prefixed over https), looked up by its hash. Expired sessions and disabled users
// have no session.
import type { Context, Middleware } from 'koa';
import type { RouteDeps } from '../web/route_deps.js';
import { epochSeconds } from '../lib/duration.js';
import type { User } from '../storage/users.js';
import type { WebSession } from '../storage/web_sessions.js';

export interface SignedIn {
  user: User;
  session: WebSession;
  /** The scope CSRF tokens of this session are bound to. */
  csrfScope: string;
}

export type WebSessions = ReturnType<typeof createWebSessions>;

export function createWebSessions(deps: RouteDeps) {
  const secure = deps.config.issuer.startsWith('https:');
  const cookieName = secure ? '__Host-mcp_account' : 'mcp_account';
  const { webSessions, users } = deps.stores;
  const base = { httpOnly: true, sameSite: 'strict' as const, secure, path: '/', signed: false, overwrite: true };

  const cookieOf = (ctx: Context) => ctx.cookies.get(cookieName, { signed: false });
  const clearCookie = (ctx: Context) => ctx.cookies.set(cookieName, '', { ...base, maxAge: 0 });

  const lookup = (ctx: Context): SignedIn | undefined => {
    const id = cookieOf(ctx);
    if (!id) return undefined;
    const session = webSessions.find(id, epochSeconds());
    const user = session && users.findById(session.userId);
    if (!session || !user || user.disabled) {
      clearCookie(ctx);
      return undefined;
    }
    return { user, session, csrfScope: `web-session:${session.idHash}` };
  };

  return {
    cookieName,
    /** Puts the signed-in user (if any) in ctx.state.signedIn. */
    load: (async (ctx, next) => {
      ctx.state.signedIn = lookup(ctx);
      await next();
    }) as Middleware,
    /** Starts a new session for `user`, ending the browser's previous one: the id is never reused. */
    start(ctx: Context, user: User): SignedIn {
      const previous = cookieOf(ctx);
      if (previous) webSessions.delete(previous);
      const { id, session } = webSessions.create(user.id, deps.config.sessionTtl, epochSeconds());
      ctx.cookies.set(cookieName, id, { ...base, maxAge: deps.config.sessionTtl * 1000 });
      const signedIn = { user, session, csrfScope: `web-session:${session.idHash}` };
      ctx.state.signedIn = signedIn;
      return signedIn;
    },
    end(ctx: Context): void {
      const id = cookieOf(ctx);
      if (id) webSessions.delete(id);
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
