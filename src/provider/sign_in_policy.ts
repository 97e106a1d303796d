// How strong a sign-in an authorization needs (src/lib/sign_in_strength.ts), and the claims that
// carry how the user signed in into access tokens. Two sources of a requirement:
// - the operator's policy (MCP_OAUTH_SECOND_FACTOR): everyone, admins, or whoever allows an agent a
//   scope that can change data;
// - the request's `acr_values`, as an agent sends it after a resource server's
//   `insufficient_user_authentication` challenge (RFC 9470 §4); `max_age` is oidc-provider's own.
// A session weaker than what is needed is sent back to the sign-in page, which asks for more.
import { errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/index.js';
import { splitScope } from '../lib/scopes.js';
import { ACR, requestedStrength, type Strength, satisfies, stronger } from '../lib/sign_in_strength.js';
import type { ResourceRepository } from '../storage/resources.js';
import type { UserRepository } from '../storage/users.js';
import type { ResourceLabels } from './resources.js';

export type SecondFactorPolicy = Config['secondFactor'];

/**
 * oidc-provider accepts `acr_values` and `max_age` only with the `openid` scope (they are OpenID
 * Connect parameters), but RFC 9470 has plain OAuth clients send them after a challenge. Such
 * requests carry them under these names instead (src/app/step_up_params.ts moves them), declared
 * as extra parameters, and the login check below reads both spellings.
 */
export const STEP_UP_PARAMS = { acrValues: 'mcp_acr_values', maxAge: 'mcp_max_age' } as const;

/** oidc-provider's `extraParams`: the step-up parameters, with max_age's syntax checked. */
export const stepUpExtraParams = {
  [STEP_UP_PARAMS.acrValues]: undefined,
  [STEP_UP_PARAMS.maxAge]: (_ctx: KoaContextWithOIDC, value: string | undefined) => {
    if (value !== undefined && !/^\d{1,9}$/.test(value)) {
      throw new errors.InvalidRequest('max_age must be a non-negative integer');
    }
  },
};

/** The acr_values of a request, in either spelling. */
function acrValuesOf(params: Record<string, unknown>): unknown {
  return params.acr_values ?? params[STEP_UP_PARAMS.acrValues];
}

/** What the operator's policy asks of this user for this request. */
export function policyStrength(
  policy: SecondFactorPolicy,
  who: { isAdmin: boolean } | undefined,
  wantsWrite: boolean,
): Strength | undefined {
  if (policy === 'everyone') return 'mfa';
  if (policy === 'admins' && who?.isAdmin) return 'mfa';
  if (policy === 'write' && wantsWrite) return 'mfa';
  return undefined;
}

/** True when the request asks for a scope that some resource marks as changing data. */
export async function asksForWrite(resources: ResourceRepository, params: Record<string, unknown>): Promise<boolean> {
  const wanted = new Set(splitScope(typeof params.scope === 'string' ? params.scope : undefined));
  if (wanted.size === 0) return false;
  const named = typeof params.resource === 'string' ? await resources.findByUri(params.resource) : undefined;
  const candidates = named ? [named] : await resources.list();
  return candidates.some((r) => r.scopes.some((s) => s.isWrite && wanted.has(s.scope)));
}

export interface StrengthDeps {
  secondFactor: SecondFactorPolicy;
  users: UserRepository;
  resources: ResourceRepository;
  /** Labels of MCP servers: a label in MCP_OAUTH_LABELS_SECOND_FACTOR asks for a second factor. */
  labels?: ResourceLabels | undefined;
}

/** What the label of the server the request names asks for. */
async function labelStrength(deps: StrengthDeps, params: Record<string, unknown>): Promise<Strength | undefined> {
  const wanted = deps.labels?.rules.secondFactor;
  if (!wanted || wanted.length === 0 || typeof params.resource !== 'string') return undefined;
  const label = await deps.labels?.labelOf(params.resource);
  return label !== undefined && wanted.includes(label) ? 'mfa' : undefined;
}

/** The strength this authorization request needs of `accountId` (undefined: a password will do). */
export async function neededStrength(
  deps: StrengthDeps,
  params: Record<string, unknown>,
  accountId: string | undefined,
): Promise<Strength | undefined> {
  const user = accountId ? await deps.users.findById(accountId) : undefined;
  const fromPolicy = policyStrength(deps.secondFactor, user, await asksForWrite(deps.resources, params));
  return stronger(stronger(fromPolicy, await labelStrength(deps, params)), requestedStrength(acrValuesOf(params)));
}

/** oidc-provider's prompts, with a login check for a session weaker than the request needs. */
export function interactionPrompts(deps: StrengthDeps) {
  const prompts = interactionPolicy.base();
  prompts.get('login')?.checks.add(
    // oidc-provider awaits each check (actions/authorization/interactions.js), so it may read the database.
    new interactionPolicy.Check('sign_in_strength', 'a stronger sign-in is required', async (ctx) => {
      const { oidc } = ctx;
      const accountId = oidc.session?.accountId;
      if (!accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const needed = await neededStrength(deps, oidc.params as Record<string, unknown>, accountId);
      if (!needed || satisfies(oidc.session?.acr, needed)) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );
  // max_age for plain OAuth requests, as oidc-provider's own check does it for OpenID ones.
  prompts.get('login')?.checks.add(
    new interactionPolicy.Check('step_up_max_age', 'a more recent sign-in is required', (ctx) => {
      const { oidc } = ctx;
      const raw = (oidc.params as Record<string, unknown>)[STEP_UP_PARAMS.maxAge];
      if (typeof raw !== 'string' || !oidc.session?.accountId || oidc.result?.login) {
        return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      }
      return oidc.session.past(Number(raw))
        ? interactionPolicy.Check.REQUEST_PROMPT
        : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
  );
  return prompts;
}

/**
 * `acr`, `amr` and `auth_time` for an access token, from the code or refresh token it is minted
 * from (oidc-provider keeps them there, not on the access token).
 */
export function signInClaims(ctx: KoaContextWithOIDC): Record<string, unknown> {
  const entities = ctx.oidc?.entities as
    | Record<string, { acr?: string; amr?: string[]; authTime?: number } | undefined>
    | undefined;
  const from = entities?.AuthorizationCode ?? entities?.RefreshToken;
  if (!from) return {};
  const claims: Record<string, unknown> = {};
  if (typeof from.acr === 'string') claims.acr = from.acr;
  if (Array.isArray(from.amr)) claims.amr = from.amr;
  if (typeof from.authTime === 'number') claims.auth_time = from.authTime;
  return claims;
}

export const ACR_VALUES_SUPPORTED = Object.values(ACR);
