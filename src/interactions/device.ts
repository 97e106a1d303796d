// The pages of the device authorization grant (RFC 8628 §3.3): the user types (or the link of
// verification_uri_complete pre-fills) the code their device shows, compares it on a confirmation
// page, then signs in and sees the same consent page as any other agent. oidc-provider runs the
// flow (src/provider/index.ts deviceFlow); these hooks only render its pages in the reader's language.
import type { Context, Middleware } from 'koa';
import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import { type Message, msg } from '../i18n/translate.js';
import type { DevicePages } from '../provider/index.js';
import type { Views } from '../web/views.js';
import { clientVerification } from './context.js';

/** The user code as the form sends it; anything longer or stranger is no code of ours. */
const USER_CODE = /^[A-Za-z0-9 -]{1,20}$/;
const PREFILL = 'deviceUserCode';

/** The re-render errors of oidc-provider's code verification, by class name. */
const ERRORS: Record<string, Message> = {
  NoCodeError: msg('device.error.noCode'),
  NotFoundError: msg('device.error.notFound'),
  ExpiredError: msg('device.error.expired'),
  AlreadyUsedError: msg('device.error.used'),
  AbortedError: msg('device.error.aborted'),
};

/**
 * verification_uri_complete (`/device?user_code=…`): oidc-provider would auto-submit the code with a
 * script our page policy does not run; the code is taken out of the query and put into the form
 * instead, where the user still presses Continue and then compares it with the device (RFC 8628 §5.4).
 */
export function devicePrefill(path: string): Middleware {
  return async (ctx, next) => {
    if (ctx.path === path && (ctx.method === 'GET' || ctx.method === 'HEAD') && ctx.querystring) {
      const params = new URLSearchParams(ctx.querystring);
      const code = params.get('user_code');
      if (code !== null) {
        if (USER_CODE.test(code)) ctx.state[PREFILL] = code.toUpperCase();
        params.delete('user_code');
        ctx.querystring = params.toString();
      }
    }
    await next();
  };
}

const formTarget = (ctx: KoaContextWithOIDC) => ({
  action: ctx.oidc.urlFor('code_verification'),
  xsrf: String((ctx.oidc.session?.state as { secret?: string } | undefined)?.secret ?? ''),
});

export function devicePages(views: Views): DevicePages {
  return {
    async input(ctx, _form, _out?: ErrorOut, err?: Error) {
      const error = err ? (ERRORS[err.name] ?? msg('device.error.other')) : undefined;
      const aborted = err?.name === 'AbortedError';
      views.render(
        ctx as unknown as Context,
        'device.njk',
        {
          title: 'Connect a device',
          ...formTarget(ctx),
          userCode: aborted ? '' : (ctx.state[PREFILL] ?? ''),
          error,
          aborted,
        },
        err && !aborted ? 400 : 200,
      );
    },
    async confirm(ctx, _form, client, deviceInfo, userCode) {
      const c = client as { clientId: string; clientName?: string };
      const { verified, verifiedDomain } = clientVerification(c.clientId);
      // Where the device asked from (oidc-provider records it): a code someone else started shows
      // an address the user does not recognise (RFC 8628 §5.4).
      const ip = (deviceInfo as { ip?: unknown } | undefined)?.ip;
      views.render(ctx as unknown as Context, 'device_confirm.njk', {
        title: 'Connect a device',
        ...formTarget(ctx),
        userCode,
        deviceIp: typeof ip === 'string' ? ip.replace(/^::ffff:/, '') : null,
        client: { name: c.clientName?.trim() || c.clientId, verified, verifiedDomain },
      });
    },
    async success(ctx) {
      const name = ctx.oidc.client?.clientName?.trim() || ctx.oidc.client?.clientId || '';
      views.render(ctx as unknown as Context, 'device_done.njk', { title: 'Device connected', clientName: name });
    },
  };
}
