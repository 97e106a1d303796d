// What oidc-provider's error page says, in the reader's language. Its error descriptions are
// English sentences for developers ("client is invalid"), shown under a translated heading. The
// common ones are catalogue texts under "server.provider." (found by their English wording, with
// values such as parameter names kept); any other is replaced, for a reader of another language,
// by a sentence about its error code ("server.providerError."). English readers keep the exact
// description, which is what a developer searching for it needs.
import type { Context } from 'koa';
import { DEFAULT_LOCALE, type I18n, negotiateLocale } from '../i18n/index.js';

const SERVER_ERROR = 'the server could not complete the request';
const BY_CODE = 'server.providerError.';

/** The English text to put on the error page; the page's translator shows it in the reader's language. */
export function providerErrorText(i18n: I18n, ctx: Context, code: string, description: string | undefined): string {
  // Whatever went wrong inside stays in the log, in every language.
  if (code === 'server_error') return SERVER_ERROR;
  if (description && (i18n.translator.knows(description) || negotiateLocale(ctx) === DEFAULT_LOCALE)) {
    return description;
  }
  const english = i18n.catalogues[DEFAULT_LOCALE];
  return english[`${BY_CODE}${code}`] ?? english[`${BY_CODE}other`] ?? description ?? code;
}
