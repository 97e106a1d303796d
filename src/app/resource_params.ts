// Folds resource indicators to their canonical spelling before oidc-provider sees them, and fills
// in a resource's default scopes when an agent asks for none (docs/pitfalls.md#resource-indicators-compared-as-strings,
// docs/pitfalls.md#requests-with-no-scope).
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { foldResource } from '../lib/resource_uri.js';
import { OIDC_SCOPES, splitScope } from '../lib/scopes.js';
import type { ResourceRepository } from '../storage/resources.js';
import { HttpError } from '../web/errors.js';

const BODY_LIMIT = 56 * 1024; // oidc-provider's own limit

async function readBody(
  req: NodeJS.ReadableStream & { readableEncoding?: string | null },
  declared: number | undefined,
): Promise<string> {
  if (declared !== undefined && declared > BODY_LIMIT)
    throw new HttpError(413, 'invalid_request', 'request body is too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > BODY_LIMIT) throw new HttpError(413, 'invalid_request', 'request body is too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

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
 * oidc-provider consumes the code or refresh token before it compares `resource`, and the retry
 * then revokes the grant (docs/pitfalls.md#resource-indicators-compared-as-strings). Compare first;
 * unknown, consumed or another client's tokens are left to the provider (invalid_grant, replay
 * detection).
 */
async function refuseUngrantedResource(provider: Provider, params: URLSearchParams): Promise<void> {
  const asked = params.getAll('resource');
  const grantType = params.get('grant_type');
  const value =
    grantType === 'authorization_code'
      ? params.get('code')
      : grantType === 'refresh_token'
        ? params.get('refresh_token')
        : null;
  if (asked.length === 0 || !value) return;
  const token: { consumed?: unknown; clientId?: string; resource?: string | string[] } | undefined =
    grantType === 'authorization_code'
      ? await provider.AuthorizationCode.find(value, { ignoreExpiration: true })
      : await provider.RefreshToken.find(value, { ignoreExpiration: true });
  if (!token || token.consumed || token.clientId !== params.get('client_id')) return;
  const granted = new Set([token.resource ?? []].flat());
  if (asked.length > 1 || !granted.has(asked[0] ?? '')) {
    throw new HttpError(400, 'invalid_target', 'resource indicator is missing, or unknown');
  }
}

export function resourceParams(opts: {
  resources: ResourceRepository;
  authorizePath: string;
  tokenPath: string;
  provider: () => Provider;
}): Middleware {
  const { resources } = opts;

  const fillDefaultScope = (params: URLSearchParams): boolean => {
    const requested = splitScope(params.get('scope'));
    if (requested.some((s) => !OIDC_SCOPES.has(s))) return false;
    const indicator = params.get('resource');
    const resource = indicator ? resources.findByUri(indicator) : resources.single();
    const defaults = resource?.scopes.filter((s) => s.isDefault).map((s) => s.scope) ?? [];
    if (defaults.length === 0) return false;
    params.set('scope', [...requested, ...defaults].join(' '));
    return true;
  };

  return async (ctx, next) => {
    const isAuthorize = ctx.path === opts.authorizePath;
    if (isAuthorize && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
      const params = new URLSearchParams(ctx.querystring);
      const changed = foldAll(params);
      const filled = fillDefaultScope(params);
      if (changed || filled) ctx.querystring = params.toString();
    } else if (
      (isAuthorize || ctx.path === opts.tokenPath) &&
      ctx.method === 'POST' &&
      ctx.is('application/x-www-form-urlencoded')
    ) {
      const body = await readBody(ctx.req, ctx.request.length);
      const params = new URLSearchParams(body);
      foldAll(params);
      if (isAuthorize) fillDefaultScope(params);
      else await refuseUngrantedResource(opts.provider(), params);
      // oidc-provider reads an already consumed body from req.body (its lib/shared/selective_body.js).
      (ctx.req as unknown as { body: string }).body = params.toString();
    }
    await next();
  };
}
