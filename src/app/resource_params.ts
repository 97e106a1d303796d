// Folds resource indicators to their canonical spelling before oidc-provider sees them, and fills
// in a resource's default scopes when an agent asks for none (docs/pitfalls.md#resource-indicators-compared-as-strings,
// docs/pitfalls.md#requests-with-no-scope).
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { peekBody, replaceBody } from '../app/body_replay.js';
import { foldResource } from '../lib/resource_uri.js';
import { OIDC_SCOPES, splitScope } from '../lib/scopes.js';
import type { ResourceRepository } from '../storage/resources.js';
import { HttpError } from '../web/errors.js';
import { moveStepUpParams } from './step_up_params.js';

const BODY_LIMIT = 56 * 1024; // oidc-provider's own limit
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

function foldAll(params: URLSearchParams): boolean {
  const resources = params.getAll('resource');
  if (resources.length === 0) return false;
  const folded = resources.map(foldResource);
  if (folded.every((r, i) => r === resources[i])) return false;
  params.delete('resource');
  for (const r of folded) params.append('resource', r);
  return true;
}

/**
 * The client a token request authenticates as: HTTP Basic, whose two parts are each
 * form-urlencoded (RFC 6749 §2.3.1), else the body's client_id. A header that does not decode
 * names no client; the provider then refuses it (invalid_request) before it reads any token.
 */
export function requestClientId(authorization: string | undefined, params: URLSearchParams): string | undefined {
  if (!authorization) return params.get('client_id') ?? undefined;
  const [scheme = '', credentials = '', ...rest] = authorization.split(' ');
  if (scheme.toLowerCase() !== 'basic' || rest.length > 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(credentials)) {
    return undefined;
  }
  const basic = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = basic.indexOf(':');
  if (colon <= 0) return undefined;
  try {
    return decodeURIComponent(basic.slice(0, colon).replace(/\+/g, '%20'));
  } catch {
    return undefined;
  }
}

/**
 * oidc-provider consumes the code or refresh token before it compares `resource`, and the retry
 * then revokes the grant (docs/pitfalls.md#resource-indicators-compared-as-strings). Compare first; unknown, consumed or another client's
 * tokens are left to the provider (invalid_grant, replay detection).
 */
async function refuseUngrantedResource(
  provider: Provider,
  params: URLSearchParams,
  authorization: string | undefined,
): Promise<void> {
  const asked = params.getAll('resource');
  const grantType = params.get('grant_type');
  const device = grantType === DEVICE_CODE_GRANT;
  const value =
    grantType === 'authorization_code'
      ? params.get('code')
      : grantType === 'refresh_token'
        ? params.get('refresh_token')
        : device
          ? params.get('device_code')
          : null;
  if (asked.length === 0 || !value) return;
  const token: { consumed?: unknown; clientId?: string; resource?: string | string[]; accountId?: string } | undefined =
    grantType === 'authorization_code'
      ? await provider.AuthorizationCode.find(value, { ignoreExpiration: true })
      : device
        ? await provider.DeviceCode.find(value, { ignoreExpiration: true })
        : await provider.RefreshToken.find(value, { ignoreExpiration: true });
  if (!token || token.consumed || token.clientId !== requestClientId(authorization, params)) return;
  // A device code the user has not approved yet names no resource: the poll is answered as pending.
  if (device && !token.accountId) return;
  const granted = new Set([token.resource ?? []].flat());
  if (asked.length > 1 || !granted.has(asked[0] ?? '')) {
    throw new HttpError(400, 'invalid_target', 'resource indicator is missing, or unknown');
  }
}

export function resourceParams(opts: {
  resources: ResourceRepository;
  authorizePath: string;
  tokenPath: string;
  /** RFC 8628 §3.1: the device authorization request names its resource and scopes like /authorize. */
  deviceAuthorizationPath?: string;
  provider: () => Provider;
}): Middleware {
  const { resources } = opts;

  // No scope of the named resource asked for (none at all, only OpenID ones, or only another
  // server's, which are left out: src/provider/resources.ts): its default scopes.
  const fillDefaultScope = async (params: URLSearchParams): Promise<boolean> => {
    const requested = splitScope(params.get('scope'));
    const indicator = params.get('resource');
    const resource = indicator ? await resources.findByUri(indicator) : await resources.single();
    const own = new Set(resource?.scopes.map((s) => s.scope));
    if (requested.some((s) => own.has(s))) return false;
    const offered = new Set(await resources.allScopes());
    if (requested.some((s) => !OIDC_SCOPES.has(s) && !offered.has(s))) return false;
    const defaults = resource?.scopes.filter((s) => s.isDefault).map((s) => s.scope) ?? [];
    if (defaults.length === 0) return false;
    params.set('scope', [...requested, ...defaults].join(' '));
    return true;
  };

  return async (ctx, next) => {
    const isDevice = opts.deviceAuthorizationPath !== undefined && ctx.path === opts.deviceAuthorizationPath;
    const isAuthorize = ctx.path === opts.authorizePath || isDevice;
    if (isAuthorize && !isDevice && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
      const params = new URLSearchParams(ctx.querystring);
      const changed = foldAll(params);
      const filled = await fillDefaultScope(params);
      const moved = moveStepUpParams(params);
      if (changed || filled || moved) ctx.querystring = params.toString();
      ctx.state.authorizeParams = params;
    } else if (
      (isAuthorize || ctx.path === opts.tokenPath) &&
      ctx.method === 'POST' &&
      ctx.request.length !== 0 &&
      ctx.is('application/x-www-form-urlencoded')
    ) {
      // Read and left in the stream: the provider reads the raw body itself (app/body_replay.ts).
      const body = await peekBody(ctx.req, BODY_LIMIT);
      const params = new URLSearchParams(body.toString('utf8'));
      const folded = foldAll(params);
      const filled = isAuthorize && (await fillDefaultScope(params));
      const moved = isAuthorize && moveStepUpParams(params);
      if (isAuthorize) ctx.state.authorizeParams = params;
      // Read once: later checks of the token request (grantedResourceOnly below, ./token_transaction.ts,
      // ./device_polling.ts) look at these.
      if (!isAuthorize) ctx.state.tokenParams = params;
      const rewritten = folded || filled || moved ? Buffer.from(params.toString(), 'utf8') : undefined;
      if (rewritten) replaceBody(ctx.req, rewritten);
      // The same bytes where oidc-provider looks when the stream is no longer readable (it then
      // parses req.body, and warns once per process, "already parsed request body detected"). That
      // happens when the agent hangs up after sending its request and before the provider reads it
      // (a load generator stopping, a proxy's timeout): Node destroys the request stream with the
      // body still in its buffer. Either way the provider parses exactly what was checked here.
      (ctx.req as { body?: string }).body = (rewritten ?? body).toString('utf8');
    }
    await next();
  };
}

/**
 * The resource check of a token request (refuseUngrantedResource), after resourceParams has read
 * the form. A middleware of its own so that it runs inside the request's transaction
 * (./token_transaction.ts), where its read of the token is the one the provider then uses.
 */
export function grantedResourceOnly(opts: { tokenPath: string; provider: () => Provider }): Middleware {
  return async (ctx, next) => {
    const params = ctx.state.tokenParams as URLSearchParams | undefined;
    if (params && ctx.path === opts.tokenPath && ctx.method === 'POST') {
      await refuseUngrantedResource(opts.provider(), params, ctx.get('authorization') || undefined);
    }
    await next();
  };
}
