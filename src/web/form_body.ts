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

/** One text field of a parsed form, or undefined when absent or not text. */
export function formField(body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** Every text value of a repeated form field (checkbox groups). */
export function formList(body: unknown, name: string): string[] {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}
