// RFC 7662 introspection for resource servers. oidc-provider cannot introspect JWT access tokens
// (it never stores them: docs/pitfalls.md#jwt-access-tokens-are-never-stored), so this endpoint
// verifies the JWT with jose against our own keys and adds what a local check cannot know: whether
// its grant still exists.
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { epochSeconds } from '../lib/duration.js';
import { SIGNING_ALG } from '../provider/keys.js';
import type { KeyRepository } from '../storage/keys.js';
import type { ResourceCredentialRepository } from '../storage/resource_credentials.js';
import type { RevocationService } from '../storage/revocations.js';
import type { ServiceClientRepository } from '../storage/service_clients.js';
import type { UserRepository } from '../storage/users.js';
import { HttpError } from '../web/errors.js';
import { formBody } from '../web/form_body.js';
import { authenticateResourceServer } from './resource_auth.js';

export const INTROSPECTION_PATH = '/introspect';

export function introspection(deps: {
  issuer: string;
  keys: KeyRepository;
  credentials: ResourceCredentialRepository;
  users: UserRepository;
  serviceClients: Pick<ServiceClientRepository, 'find'>;
  revocations: Pick<RevocationService, 'clientRevokedBefore'>;
  provider: () => Provider;
}): Middleware {
  /**
   * A service client's token (client credentials: no grant, the client is its own subject) is
   * active while the client is a service client, is not disabled (the adapter then finds no
   * client), and was not cut off after the token was issued.
   */
  const serviceTokenActive = async (payload: Record<string, unknown>): Promise<boolean> => {
    const clientId = String(payload.client_id);
    if (payload.grant_id !== undefined || payload.sub !== clientId || !(await deps.serviceClients.find(clientId)))
      return false;
    if (!(await deps.provider().Client.find(clientId))) return false;
    const before = await deps.revocations.clientRevokedBefore(clientId, epochSeconds());
    return before === undefined || Number(payload.iat) > before;
  };

  const form = formBody('the request body could not be read');

  const inactive = { active: false };

  return async (ctx, next) => {
    if (ctx.path !== INTROSPECTION_PATH) return next();
    ctx.set('Cache-Control', 'no-store');
    if (ctx.method !== 'POST') throw new HttpError(405, 'invalid_request', 'use POST');
    if (!ctx.is('application/x-www-form-urlencoded'))
      throw new HttpError(400, 'invalid_request', 'the body must be form-urlencoded');
    await form(ctx, async () => {});
    const caller = await authenticateResourceServer(ctx, deps.credentials, 'introspection');
    const token = (ctx.request.body as Record<string, unknown>).token;
    if (typeof token !== 'string' || token.length === 0 || token.length > 8192) {
      throw new HttpError(400, 'invalid_request', 'token is required');
    }
    const jwks: JSONWebKeySet = {
      keys: (await deps.keys.live(epochSeconds())).map((k) => JSON.parse(k.public_jwk)),
    };
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
        issuer: deps.issuer,
        audience: caller.resourceUri,
        typ: 'at+jwt',
        algorithms: [SIGNING_ALG],
        requiredClaims: ['sub', 'client_id', 'exp', 'iat', 'jti'],
      }));
    } catch {
      ctx.body = inactive;
      return;
    }
    const grantId = payload.grant_id;
    if (grantId === undefined && (await serviceTokenActive(payload))) {
      ctx.body = { ...payload, active: true, token_type: 'Bearer' };
      return;
    }
    const grant = typeof grantId === 'string' ? await deps.provider().Grant.find(grantId) : undefined;
    if (!grant || (await deps.users.findById(String(grant.accountId)))?.disabled !== false) {
      ctx.body = inactive;
      return;
    }
    // A DPoP-bound token keeps its `cnf` (RFC 9449 §6.2): the resource server must check the proof.
    const cnf = payload.cnf as { jkt?: unknown } | undefined;
    ctx.body = { ...payload, active: true, token_type: typeof cnf?.jkt === 'string' ? 'DPoP' : 'Bearer' };
  };
}
