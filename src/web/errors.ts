// The one place errors are answered. Every refusal, wherever it is decided (a thrown HttpError, an
// oidc-provider error page, the admin API, a rate limit, a full revocation feed, a probe's 405), goes
// out through sendError: never cached, as an HTML page for a person or as an OAuth-style JSON error
// ({error, error_description}) for a program, chosen by errorFormat() alone. Anything unexpected
// becomes a plain server_error, logged with its cause and never shown.
import type { Context, Middleware, Next } from 'koa';
import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../log/logger.js';
import { INTERACTION_PREFIX } from '../provider/index.js';
import { providerErrorText } from './provider_errors.js';
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

/** What is wrong, as the caller sees it. */
export interface Problem {
  status: number;
  error: string;
  description: string;
  /** Headers of the status (Retry-After, Allow, WWW-Authenticate). */
  headers?: Record<string, string>;
}

/** How a group of routes shows its errors: a page in a given template with its variables. */
export interface ErrorPage {
  template: string;
  vars: (ctx: Context) => Record<string, unknown>;
  /** Headings by status first (the account and admin pages say "Not allowed", "Not found"). */
  byStatus?: boolean;
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

const SERVER_ERROR = 'the server could not complete the request';

const BY_CODE: Record<string, string> = {
  access_denied: 'Access was not granted',
  invalid_request: 'This request cannot be completed',
  invalid_client: 'Unknown agent',
  invalid_target: 'Unknown MCP server',
  invalid_scope: 'Unknown permission requested',
  invalid_redirect_uri: 'The agent sent an unexpected return address',
  login_required: 'Sign-in required',
  session_not_found: 'This sign-in link has expired',
};

const BY_STATUS: Record<number, string> = {
  403: 'Not allowed',
  404: 'Not found',
};

function heading(problem: Problem, page: ErrorPage | undefined): string {
  return (
    (page?.byStatus ? BY_STATUS[problem.status] : undefined) ??
    BY_CODE[problem.error] ??
    BY_STATUS[problem.status] ??
    (page?.byStatus ? 'This request cannot be completed' : 'Something went wrong')
  );
}

/**
 * The one decision between a page and JSON: what the route group declared (the account and admin
 * pages are pages, the admin API is JSON), else a page for the login and consent steps and for a
 * browser's GET that prefers HTML, else JSON.
 */
export function errorFormat(ctx: Context): 'html' | 'json' {
  const declared = ctx.state.errorFormat as 'html' | 'json' | undefined;
  if (declared) return declared;
  const interaction = ctx.path.startsWith(`${INTERACTION_PREFIX}/`);
  return interaction || (ctx.method === 'GET' && ctx.accepts('json', 'html') === 'html') ? 'html' : 'json';
}

/** Answers `problem`: a page when errorFormat() says so and views are at hand, else JSON. */
export function sendError(ctx: Context, problem: Problem, views?: Views): void {
  if (problem.headers) ctx.set(problem.headers);
  ctx.set('Cache-Control', 'no-store');
  if (views && errorFormat(ctx) === 'html') {
    const page = ctx.state.errorPage as ErrorPage | undefined;
    views.render(
      ctx,
      page?.template ?? 'error.njk',
      {
        ...page?.vars(ctx),
        title: 'Error',
        heading: heading(problem, page),
        message: problem.description,
        code: problem.error,
      },
      problem.status,
    );
    return;
  }
  ctx.status = problem.status;
  ctx.body = { error: problem.error, error_description: problem.description };
}

/** What a thrown error may show: its own status and words when it is a client error meant to be shown. */
export function problemOf(caught: unknown): { problem: Problem; unexpected: boolean } {
  const err = (caught ?? {}) as ExposedError;
  // oidc-provider's SessionNotFound: the interaction cookie is missing, expired or from another browser.
  if ((caught as Error | undefined)?.name === 'SessionNotFound') {
    return {
      problem: {
        status: 400,
        error: 'session_not_found',
        description: 'This sign-in link has expired or was opened in a different browser. Start again from the agent.',
      },
      unexpected: false,
    };
  }
  const status = err.status ?? err.statusCode ?? 500;
  // An HttpError is ours and meant to be read, even a 503 (an identity provider that is down).
  const readable = status < 500 || caught instanceof HttpError;
  if (err.expose !== true || status < 400 || !readable) {
    return { problem: { status: 500, error: 'server_error', description: SERVER_ERROR }, unexpected: true };
  }
  return {
    problem: {
      status,
      error: err.error ?? 'invalid_request',
      description: err.error_description ?? err.description ?? err.message ?? 'invalid request',
    },
    unexpected: false,
  };
}

/** Catches what the routes after it throw and answers it with sendError (the outermost handler). */
export function errorHandler(views: Views, log: Logger): Middleware {
  return (ctx, next) => answerErrors(ctx, next, views, log);
}

/** Runs the rest of the chain; whatever it throws is logged when unexpected and answered by sendError. */
async function answerErrors(ctx: Context, next: Next, views: Views, log: Logger): Promise<void> {
  try {
    await next();
  } catch (caught) {
    const { problem, unexpected } = problemOf(caught);
    if (unexpected) log.error({ err: caught, path: ctx.path, method: ctx.method }, 'request failed');
    sendError(ctx, problem, views);
  }
}

/**
 * For a group of routes that shows its errors one way: as `page` (the account and admin pages), or
 * as JSON (the admin API, page undefined). Errors the routes throw are answered here, so the
 * group's own variables (the signed-in user's navigation) are at hand.
 */
export function errorsAs(views: Views, log: Logger, page?: ErrorPage): Middleware {
  return async (ctx, next) => {
    ctx.state.errorFormat = page ? 'html' : 'json';
    ctx.state.errorPage = page;
    await answerErrors(ctx, next, views, log);
  };
}

/** oidc-provider's error page (a browser reached an endpoint with a request it refuses to redirect). */
export function providerErrorRenderer(views: Views) {
  return async (ctx: KoaContextWithOIDC, out: ErrorOut, _error: Error): Promise<void> => {
    const error = out.error ?? 'server_error';
    const koa = ctx as unknown as Context;
    const description =
      error === 'server_error' ? SERVER_ERROR : providerErrorText(views.i18n, koa, error, out.error_description);
    // oidc-provider asks for a page only when it has decided the caller is a browser.
    koa.state.errorFormat = 'html';
    sendError(koa, { status: Math.max(ctx.status, 400), error, description }, views);
  };
}
