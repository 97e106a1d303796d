// One error path. OAuth errors go out as {error, error_description} (or an error page for a
// browser), with no-store; anything unexpected becomes a plain server_error, logged with its cause.
import type { Context, Middleware } from 'koa';
import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../log/logger.js';
import type { Views } from './views.js';

export class HttpError extends Error {
  readonly expose = true;
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
    this.name = 'HttpError';
  }
}

interface ExposedError {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  error?: string;
  error_description?: string;
  description?: string;
  message?: string;
}

const HEADINGS: Record<string, string> = {
  access_denied: 'Access was not granted',
  invalid_request: 'This request cannot be completed',
  invalid_client: 'Unknown agent',
  invalid_target: 'Unknown MCP server',
  invalid_scope: 'Unknown permission requested',
  invalid_redirect_uri: 'The agent sent an unexpected return address',
  login_required: 'Sign-in required',
  session_not_found: 'This sign-in link has expired',
};

export function errorPage(views: Views, ctx: Context, status: number, code: string, message: string): void {
  views.render(
    ctx,
    'error.njk',
    { title: 'Error', heading: HEADINGS[code] ?? 'Something went wrong', message, code },
    status,
  );
}

function wantsHtml(ctx: Context): boolean {
  return ctx.path.startsWith('/interaction/') || (ctx.accepts('json', 'html') === 'html' && ctx.method === 'GET');
}

export function errorHandler(views: Views, log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (caught) {
      const err = caught as ExposedError;
      const status = err.status ?? err.statusCode ?? 500;
      // An HttpError is ours and meant to be read, even a 503 (an identity provider that is down).
      const exposed = err.expose === true && status >= 400 && (status < 500 || caught instanceof HttpError);
      // oidc-provider's SessionNotFound: the interaction cookie is missing, expired or from another browser.
      const lost = (caught as Error).name === 'SessionNotFound';
      const code = lost ? 'session_not_found' : exposed ? (err.error ?? 'invalid_request') : 'server_error';
      const description = lost
        ? 'This sign-in link has expired or was opened in a different browser. Start again from the agent.'
        : exposed
          ? (err.error_description ?? err.description ?? err.message ?? 'invalid request')
          : 'the server could not complete the request';
      if (!exposed) log.error({ err: caught, path: ctx.path, method: ctx.method }, 'request failed');
      ctx.set('Cache-Control', 'no-store');
      if (wantsHtml(ctx)) {
        errorPage(views, ctx, exposed ? status : 500, code, description);
      } else {
        ctx.status = exposed ? status : 500;
        ctx.body = { error: code, error_description: description };
      }
    }
  };
}

/** oidc-provider's error page (a browser reached an endpoint with a request it refuses to redirect). */
export function providerErrorRenderer(views: Views) {
  return async (ctx: KoaContextWithOIDC, out: ErrorOut, _error: Error): Promise<void> => {
    const code = out.error ?? 'server_error';
    const message =
      code === 'server_error' ? 'the server could not complete the request' : (out.error_description ?? code);
    errorPage(views, ctx as unknown as Context, Math.max(ctx.status, 400), code, message);
  };
}
