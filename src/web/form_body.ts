// The one url-encoded body parser for our own routes (never in front of oidc-provider's endpoints,
// which read the raw stream: docs/pitfalls.md#mounting-the-provider-in-koa). A body it cannot read
// is a 400, never a 5xx.
import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';
import { HttpError } from './errors.js';

export function formBody(unreadable = 'the form could not be read'): Middleware {
  return bodyParser({
    enableTypes: ['form'],
    formLimit: '16kb',
    onError: () => {
      throw new HttpError(400, 'invalid_request', unreadable);
    },
  });
}
