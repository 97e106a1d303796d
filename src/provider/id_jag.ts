// Enterprise-managed authorization: an agent presents an Identity Assertion JWT Authorization Grant
// (ID-JAG, `typ: oauth-id-jag+jwt`, draft-ietf-oauth-identity-assertion-authz-grant) issued by an
// identity provider the operator trusts for it (the same providers as single sign-on, with an
// `id_jag` policy), as an RFC 7523 JWT bearer grant. No consent page: the organisation decided. We
// check the issuer, signature, type, `aud` (our issuer), `client_id` (the authenticated client),
// `resource`, expiry and replay, map the subject to its linked user, and issue a short-lived
// audience-bound access token within the provider's policy (MCP servers and scopes).
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config, IdentityProvider } from '../config/index.js';
import { judgeResource } from '../lib/agent_policy.js';
import { epochSeconds } from '../lib/duration.js';
import { tokenTtlFor } from '../lib/labels.js';
import { canonicalResource } from '../lib/resource_uri.js';
import { splitScope } from '../lib/scopes.js';
import type { GrantRecordRepository } from '../storage/grant_records.js';
import type { IdentityRepository } from '../storage/identities.js';
import type { ResourceRepository } from '../storage/resources.js';
import type { UserRepository } from '../storage/users.js';
import { SIGNING_ALG } from './keys.js';
import { type AgentPolicyLookup, policyOn, type ResourceLabels } from './resources.js';
import type { Upstream } from './upstream.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ID_JAG_TYPE = 'oauth-id-jag+jwt';
const CLOCK_TOLERANCE = 30;
/** An assertion older than this is refused whatever its `exp` says: they are meant to be used at once. */
const MAX_AGE = 600;

export interface IdJagDeps {
  config: Config;
  upstream: Upstream;
  identities: IdentityRepository;
  users: UserRepository;
  resources: ResourceRepository;
  grantRecords: GrantRecordRepository;
  /** Per-agent policy (src/grants/policy.ts): it holds for this grant too. */
  agentPolicy?: AgentPolicyLookup;
  /** Classification labels: their read-only rule and token lifetime hold here too. */
  labels?: ResourceLabels;
}

const invalid = (description: string) => new errors.InvalidGrant(description);

export function registerIdJagGrant(provider: Provider, deps: IdJagDeps): void {
  const trusted = deps.config.identityProviders.filter((p) => p.idJag !== undefined);
  if (trusted.length === 0) return;
  const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  const keysOf = async (idp: IdentityProvider) => {
    let found = keySets.get(idp.name);
    if (!found) {
      const jwksUri = (await deps.upstream.client(idp)).serverMetadata().jwks_uri;
      if (!jwksUri) throw invalid('the identity provider publishes no keys');
      found = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 10_000 });
      keySets.set(idp.name, found);
    }
    return found;
  };

  const handler = async (ctx: KoaContextWithOIDC): Promise<void> => {
    const { client, params } = ctx.oidc;
    // A bearer assertion alone is not enough: the agent proves who it is too (a public client's
    // stolen assertion would otherwise be anyone's token).
    if (!client || client.clientAuthMethod === 'none') {
      throw new errors.UnauthorizedClient('this grant needs an authenticated (confidential) client');
    }
    const assertion = typeof params?.assertion === 'string' ? params.assertion : '';
    let issuer: unknown;
    try {
      if (decodeProtectedHeader(assertion).typ?.toLowerCase() !== ID_JAG_TYPE) throw invalid('not an ID-JAG');
      issuer = decodeJwt(assertion).iss;
    } catch {
      throw invalid('the assertion is not an Identity Assertion JWT Authorization Grant');
    }
    const idp = trusted.find((p) => p.issuer === issuer);
    if (!idp?.idJag) throw invalid('the assertion is not from an identity provider trusted for it');

    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(assertion, await keysOf(idp), {
        issuer: idp.issuer,
        audience: deps.config.issuer,
        typ: ID_JAG_TYPE,
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
        clockTolerance: CLOCK_TOLERANCE,
        maxTokenAge: MAX_AGE,
      }));
    } catch {
      throw invalid('the assertion is invalid or expired');
    }
    if (claims.client_id !== client.clientId) throw invalid('the assertion was issued to another client');

    // The MCP server: the one the assertion names, which the request may repeat but not change.
    const named = typeof claims.resource === 'string' ? canonicalResource(claims.resource) : undefined;
    if (!named?.ok) throw invalid('the assertion names no MCP server');
    const asked = params?.resource;
    if (asked !== undefined && asked !== named.uri)
      throw new errors.InvalidTarget('resource differs from the assertion');
    const resource = await deps.resources.findByUri(named.uri);
    if (!resource || !idp.idJag.resources.map((r) => canonicalResource(r)).some((r) => r.ok && r.uri === named.uri)) {
      throw new errors.InvalidTarget('this identity provider may not grant access to that MCP server');
    }

    // Scopes: those requested (or else those in the assertion), each within the assertion, the
    // provider's policy and the MCP server's scopes; anything else is refused, not trimmed.
    const inAssertion = typeof claims.scope === 'string' ? splitScope(claims.scope) : [];
    const requested = typeof params?.scope === 'string' ? splitScope(params.scope) : inAssertion;
    // The user's groups' policies apply as on the consent page (the user is checked below).
    const identity = await deps.identities.find(idp.issuer, String(claims.sub));
    const policy = await policyOn(
      await deps.agentPolicy?.(client.clientId, identity?.userId),
      resource.uri,
      deps.labels,
    );
    const verdict = judgeResource(policy, resource.uri, resource.scopes);
    if (!verdict.allowed) throw new errors.InvalidTarget('this agent may not use that MCP server');
    const offered = new Set(verdict.scopes);
    const outside = requested.filter(
      (s) => !inAssertion.includes(s) || !idp.idJag?.scopes.includes(s) || !offered.has(s),
    );
    if (requested.length === 0 || outside.length > 0) {
      throw new errors.InvalidScope('scope not granted by the assertion and policy', outside[0] ?? '');
    }

    const user = identity && (await deps.users.findById(identity.userId));
    if (!user || user.disabled) throw invalid('no enabled user here for the assertion subject');

    // Last: an assertion refused above may be presented again once the cause is fixed.
    const expires = Math.min(Number(claims.exp), epochSeconds() + MAX_AGE) + CLOCK_TOLERANCE;
    if (!(await deps.identities.firstUseOfAssertion(idp.issuer, String(claims.jti), expires))) {
      throw invalid('the assertion was already used');
    }

    const scope = requested.join(' ');
    const { provider: p } = ctx.oidc;
    const grant = new p.Grant({ accountId: user.id, clientId: client.clientId });
    grant.addResourceScope(resource.uri, scope);
    const grantId = await grant.save();
    await deps.grantRecords.saved(
      {
        id: grantId,
        accountId: user.id,
        clientId: client.clientId,
        resource: resource.uri,
        scopes: requested,
        obtainedVia: 'id-jag',
      },
      epochSeconds(),
    );
    const label = deps.labels ? await deps.labels.labelOf(resource.uri) : undefined;
    const token = new p.AccessToken({ accountId: user.id, client, grantId, gty: 'jwt_bearer', scope });
    token.resourceServer = new p.ResourceServer(resource.uri, {
      scope: [...offered].join(' '),
      audience: resource.uri,
      accessTokenTTL: deps.labels
        ? tokenTtlFor(label, deps.config.accessTokenTtl, deps.labels.rules)
        : deps.config.accessTokenTtl,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: SIGNING_ALG } },
    });
    ctx.oidc.entity('Grant', grant);
    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();
    ctx.body = {
      access_token: value,
      token_type: 'Bearer',
      expires_in: token.expiration,
      scope,
    };
  };

  provider.registerGrantType(JWT_BEARER, handler as never, ['assertion', 'scope', 'resource']);
}
