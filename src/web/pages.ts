// What every account and admin page shares: url-encoded forms with a CSRF token bound to the
// session, and errors shown as a page with a way back.

import type { Context, Middleware } from 'koa';
import type { Logger } from '../log/logger.js';
import type { Csrf } from './csrf.js';
import { errorsAs, HttpError } from './errors.js';
import { formBody, formField } from './form_body.js';
import { pageUser, signedIn } from './page_session.js';
import type { Views } from './views.js';

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

/**
 * Errors of these pages as a page in the account layout (with the signed-in user's navigation),
 * whatever the method; unexpected ones are logged and shown as a plain server error.
 */
export function pageErrors(views: Views, csrf: Csrf, log: Logger): Middleware {
  return errorsAs(views, log, {
    template: 'account_error.njk',
    byStatus: true,
    vars: (ctx: Context) => {
      const who = signedIn(ctx);
      return { user: who && pageUser(who.user), csrf: who && csrf.issue(ctx, who.csrfScope) };
    },
  });
}
