// RFC 8707 resource indicators: only registered MCP servers get tokens, and every token is a
// short-lived RFC 9068 JWT whose audience is exactly one of them.
import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import { type AgentPolicyRules, judgeResource } from '../lib/agent_policy.js';
import { type Label, type LabelRules, tokenTtlFor } from '../lib/labels.js';
import { canonicalResource } from '../lib/resource_uri.js';
import { OIDC_SCOPES, splitScope } from '../lib/scopes.js';
import { satisfies } from '../lib/sign_in_strength.js';
import type { Resource, ResourceRepository } from '../storage/resources.js';
import type { ServiceClient, ServiceClientRepository } from '../storage/service_clients.js';
import type { DocumentPins } from './document_pins.js';
import { SIGNING_ALG } from './keys.js';
import { accountOf } from './tool_policy.js';

const isClientCredentials = (ctx: KoaContextWithOIDC) => ctx.oidc.params?.grant_type === 'client_credentials';

/** Classification labels of MCP servers and what they change (src/lib/labels.ts). */
export interface ResourceLabels {
  labelOf(uri: string): Promise<Label | undefined>;
  rules: LabelRules;
}

/** The agent's policy on one server, with the server's label's read-only rule added. */
export async function policyOn(
  policy: AgentPolicyRules | undefined,
  uri: string,
  labels: ResourceLabels | undefined,
): Promise<AgentPolicyRules | undefined> {
  const label = await labels?.labelOf(uri);
  if (!label || !labels?.rules.readOnly.includes(label)) return policy;
  return { ...(policy ?? { resources: null, scopes: null }), readOnly: true };
}

/**
 * What the admins' policies leave an agent acting for the user, when known: the agent's own and the
 * user's groups' (src/lib/group_policy.ts); undefined when none applies.
 */
export type AgentPolicyLookup = (clientId: string, accountId?: string) => Promise<AgentPolicyRules | undefined>;

export function resourceFunctions(
  resources: ResourceRepository,
  accessTokenTtl: number,
  serviceClients: Pick<ServiceClientRepository, 'find'>,
  agentPolicy: AgentPolicyLookup = async () => undefined,
  pins?: DocumentPins,
  labels?: ResourceLabels,
) {
  const lookup = async (indicator: string): Promise<Resource> => {
    const canonical = canonicalResource(indicator);
    // Indicators are folded before they reach the provider (http/resource_params.ts), so a
    // non-canonical spelling here means the request bypassed that and is refused.
    if (!canonical.ok || canonical.uri !== indicator) throw new errors.InvalidTarget();
    const resource = await resources.findByUri(canonical.uri);
    if (!resource) throw new errors.InvalidTarget();
    return resource;
  };

  /**
   * Client credentials only for a service client an admin registered (never one that registered
   * itself: src/provider/client_policy.ts refuses the grant type there), and only for what the admin
   * allowed it.
   */
  const serviceClientOf = async (client: unknown): Promise<ServiceClient> => {
    const clientId = (client as { clientId?: string } | undefined)?.clientId;
    const service = clientId ? await serviceClients.find(clientId) : undefined;
    if (!service) throw new errors.UnauthorizedClient('this client may not use the client credentials grant');
    return service;
  };

  /** The scopes a service client gets on the resource; none asked for means all it is allowed there. */
  const serviceScopes = (ctx: KoaContextWithOIDC, service: ServiceClient, resource: Resource): string[] => {
    if (!service.resources.includes(resource.uri)) {
      throw new errors.InvalidTarget('this service client may not access that MCP server');
    }
    const allowed = resource.scopes.map((s) => s.scope).filter((s) => service.scopes.includes(s));
    const requested = splitScope((ctx.oidc.params?.scope as string | undefined) ?? '').filter(
      (s) => !OIDC_SCOPES.has(s),
    );
    const refused = requested.find((s) => !allowed.includes(s));
    if (refused !== undefined) {
      throw new errors.InvalidScope('requested scope is not allowed for this service client', refused);
    }
    if (allowed.length === 0) throw new errors.InvalidScope('this service client has no scope on that MCP server', '');
    // The grant handler reads the request's scope after this: an empty request becomes everything allowed.
    if (requested.length === 0 && ctx.oidc.params) ctx.oidc.params.scope = allowed.join(' ');
    return allowed;
  };

  return {
    /**
     * When the agent names no resource and exactly one is registered, that one
     * (docs/requirements.md#rfc-8707-resource-indicators). A service client must name one unless
     * it is allowed exactly one.
     */
    async defaultResource(
      ctx: KoaContextWithOIDC,
      client: unknown,
      oneOf?: readonly string[],
    ): Promise<string | readonly string[]> {
      // At /token with several granted and none named: returned as is, the provider refuses (invalid_target).
      if (oneOf) return oneOf;
      if (isClientCredentials(ctx)) {
        const only = (await serviceClientOf(client)).resources;
        if (only.length !== 1 || !only[0]) {
          throw new errors.InvalidTarget('name the MCP server with the resource parameter');
        }
        return only[0];
      }
      const single = (await resources.single())?.uri;
      if (!single) throw new errors.InvalidTarget('name the MCP server with the resource parameter');
      return single;
    },

    async getResourceServerInfo(ctx: KoaContextWithOIDC, indicator: string, client: unknown): Promise<ResourceServer> {
      const asked = ctx.oidc.params?.resource;
      if (Array.isArray(asked) && new Set(asked).size > 1) {
        throw new errors.InvalidTarget('an authorization request must name exactly one MCP server');
      }
      const resource = await lookup(indicator);
      if (isClientCredentials(ctx)) {
        const scope = serviceScopes(ctx, await serviceClientOf(client), resource);
        return {
          scope: scope.join(' '),
          audience: resource.uri,
          accessTokenTTL: accessTokenTtl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: SIGNING_ALG } },
        };
      }
      const known = new Set(resource.scopes.map((s) => s.scope));
      // The agent's and its user's groups' policies, read on every request (authorization, code,
      // refresh), so a narrowed policy holds for grants given before it at their next refresh.
      const clientId = (client as { clientId?: string } | undefined)?.clientId ?? '';
      const verdict = judgeResource(
        await policyOn(await agentPolicy(clientId, accountOf(ctx)), resource.uri, labels),
        resource.uri,
        resource.scopes,
      );
      if (!verdict.allowed) throw new errors.InvalidTarget('this agent may not use that MCP server');
      const label = await labels?.labelOf(resource.uri);
      if (ctx.oidc.params?.grant_type === 'refresh_token') {
        // Nothing of the grant left: refused rather than a token that can do nothing.
        const refreshToken = (
          ctx.oidc.entities as {
            RefreshToken?: { scopes?: Set<string>; grantId?: string; accountId?: string; acr?: string };
          }
        ).RefreshToken;
        // A server whose label needs a second factor: a grant signed in without one goes back
        // through the sign-in, which asks for it (./sign_in_policy.ts).
        if (label && labels?.rules.secondFactor?.includes(label) && !satisfies(refreshToken?.acr, 'mfa')) {
          throw new errors.InvalidGrant('this MCP server needs a sign-in with a second factor: authorize again');
        }
        if (
          refreshToken?.grantId &&
          (await pins?.check(refreshToken.grantId, client as never, refreshToken.accountId)) === 'changed'
        ) {
          throw new errors.InvalidGrant("the agent's metadata document changed: the user must allow it again");
        }
        const held = refreshToken?.scopes;
        if (held && ![...held].some((s) => verdict.scopes.includes(s))) {
          throw new errors.InvalidGrant('the agent policy no longer allows any scope of this grant');
        }
      } else if (verdict.scopes.length === 0) {
        // The policies leave nothing on this server: refused rather than a consent offering nothing.
        throw new errors.InvalidTarget('this agent may not use that MCP server');
      }
      const requested = splitScope((ctx.oidc.params?.scope as string | undefined) ?? '');
      // A scope of another registered MCP server is not this request's business: agents such as
      // Claude ask for the whole scopes_supported list of the metadata. It is left out: the
      // provider grants and the consent page offers only scopes of this resource (`scope` below).
      // A scope no server offers is still refused.
      const foreign = requested.filter((s) => !known.has(s) && !OIDC_SCOPES.has(s));
      const offered = foreign.length > 0 ? new Set(await resources.allScopes()) : undefined;
      const unknown = foreign.filter((s) => !offered?.has(s));
      if (unknown.length > 0) {
        throw new errors.InvalidScope('requested scope is not offered by the resource', unknown[0] ?? '');
      }
      return {
        scope: verdict.scopes.join(' '),
        audience: resource.uri,
        accessTokenTTL: labels ? tokenTtlFor(label, accessTokenTtl, labels.rules) : accessTokenTtl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: SIGNING_ALG } },
      };
    },

    // A token request without `resource` uses what was granted
    // (docs/pitfalls.md#resource-indicators-compared-as-strings).
    async useGrantedResource(): Promise<boolean> {
      return true;
    },
  };
}
