// What every account and admin page shares: url-encoded forms with a CSRF token bound to the
// session, and errors shown as a page with a way back.

import type { Context, Middleware, Next } from 'koa';
import type { Csrf } from '../web/csrf.js';
import { HttpError } from '../web/errors.js';
import { formBody } from '../web/form_body.js';
import type { Views } from '../web/views.js';
import { formField } from './form_body.js';
import { pageUser, signedIn } from './page_session.js';

const parseForm = formBody();

export const CSRF_FAILED = 'the form expired or did not come from this site; reload the page and try again';

/** Parses a url-encoded form and checks its `csrf` field against `scope(ctx)`. */
export function checkedForm(csrf: Csrf, scope: (ctx: Context) => string): Middleware {
  return async (ctx, next) => {
    if (!ctx.is('application/x-www-form-urlencoded'))
      throw new HttpError(415, 'invalid_request', 'forms must be url-encoded');
    await parseForm(ctx, async () => {
      if (!csrf.verify(ctx, scope(ctx), formField(ctx.request.body, 'csrf'))) {
        throw new HttpError(403, 'invalid_request', CSRF_FAILED);
      }
      await next();
    });
  };
}

/** Expected errors of these pages as a page (not JSON, whatever the method); the rest go on up. */
export function pageErrors(views: Views, csrf: Csrf): Middleware {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      const who = signedIn(ctx);
      views.render(
        ctx,
        'account_error.njk',
        {
          title: 'Error',
          heading: HEADINGS[err.status] ?? 'This request cannot be completed',
          message: err.message,
          user: who && pageUser(who.user),
          csrf: who && csrf.issue(ctx, who.csrfScope),
        },
        err.status,
      );
    }
  };
}

const HEADINGS: Record<number, string> = {
  403: 'Not allowed',
  404: 'Not found',
};
