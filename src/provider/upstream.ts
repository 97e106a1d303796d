// The organisation's identity providers as seen by this server, a relying party (openid-client):
// their discovered configuration, the policy every upstream account must meet (email domains,
// groups, the admin role), and the re-check of a user's standing when an agent refreshes.
//
// Why the re-check sits in findAccount: oidc-provider looks the account up on every refresh-token
// grant and answers invalid_grant when it is gone, before anything is issued. Doing the check there
// (only for that grant, only when the last confirmation is older than MCP_OAUTH_IDP_RECHECK_INTERVAL)
// uses the stored upstream refresh token to ask the provider again; any failure (the provider
// refuses the token, the user left the allowed groups, no refresh token, the provider unreachable
// or no longer configured) fails closed. The agent then has to send the user through sign-in again,
// and the user's browser sessions end, so no session signed in earlier authorizes another agent.
import * as oidc from 'openid-client';
import type { Audit } from '../audit/index.js';
import type { Config, IdentityProvider } from '../config/index.js';
import { epochSeconds } from '../lib/duration.js';
import type { Logger } from '../log/logger.js';
import type { Identity, IdentityRepository } from '../storage/identities.js';
import type { UserRepository } from '../storage/users.js';

const TIMEOUT_SECONDS = 10;

export type UpstreamClaims = oidc.IDToken | (oidc.UserInfoResponse & Record<string, unknown>);

export type Verdict =
  | { ok: true; email: string | null; emailVerified: boolean; isAdmin: boolean | undefined }
  | { ok: false; reason: 'email_unverified' | 'email_domain' | 'group' };

/** Whether an upstream account may use this server, by the provider's policy. */
export function judgeClaims(idp: IdentityProvider, claims: Record<string, unknown>): Verdict {
  const email = typeof claims.email === 'string' && claims.email.length <= 254 ? claims.email.toLowerCase() : null;
  // Only a boolean true: a provider that does not say so has not verified it.
  const emailVerified = email !== null && claims.email_verified === true;
  if (idp.allowedEmailDomains.length > 0) {
    if (!emailVerified) return { ok: false, reason: 'email_unverified' };
    const domain = (email as string).slice((email as string).lastIndexOf('@') + 1);
    if (!idp.allowedEmailDomains.includes(domain)) return { ok: false, reason: 'email_domain' };
  }
  const raw = claims[idp.groupsClaim];
  const groups = Array.isArray(raw)
    ? raw.filter((g): g is string => typeof g === 'string')
    : typeof raw === 'string'
      ? [raw]
      : [];
  if (idp.allowedGroups.length > 0 && !groups.some((g) => idp.allowedGroups.includes(g))) {
    return { ok: false, reason: 'group' };
  }
  const isAdmin = idp.adminGroups.length > 0 ? groups.some((g) => idp.adminGroups.includes(g)) : undefined;
  return { ok: true, email, emailVerified, isAdmin };
}

export type Upstream = ReturnType<typeof createUpstream>;

export interface UpstreamDeps {
  config: Config;
  identities: IdentityRepository;
  users: UserRepository;
  audit: Audit;
  log: Logger;
  /** Ends the user's browser sessions (oidc-provider's and the pages'), so none outlives the standing. */
  endSessions?: (userId: string) => Promise<unknown>;
  /**
   * Replaces the groups the provider's group claim put the user in (src/grants/groups.ts), at each
   * re-check as at sign-in, so a user the company moves between groups gets their policies.
   */
  syncGroups?: (userId: string, issuer: string, provider: string, claim: unknown) => Promise<void>;
}

export function createUpstream(deps: UpstreamDeps) {
  const { config, identities, users, audit, log } = deps;
  const byName = new Map(config.identityProviders.map((p) => [p.name, p]));
  const byIssuer = new Map(config.identityProviders.map((p) => [p.issuer, p]));
  // Discovery is cached once it succeeds; a failure is retried at the next use.
  const discovered = new Map<string, Promise<oidc.Configuration>>();
  // One upstream refresh per identity at a time: concurrent refreshes of a user's agents share it
  // (a provider that rotates refresh tokens would refuse the second use of the same one).
  const inFlight = new Map<string, Promise<boolean>>();

  const client = (idp: IdentityProvider): Promise<oidc.Configuration> => {
    let found = discovered.get(idp.name);
    if (!found) {
      found = oidc.discovery(
        new URL(idp.issuer),
        idp.clientId,
        undefined,
        idp.clientSecret === undefined ? oidc.None() : oidc.ClientSecretPost(idp.clientSecret),
        {
          timeout: TIMEOUT_SECONDS,
          // Validated in src/config/identity_providers.ts: a loopback provider of a loopback server.
          ...(idp.insecureLoopback ? { execute: [oidc.allowInsecureRequests] } : {}),
        },
      );
      discovered.set(idp.name, found);
      found.catch(() => discovered.delete(idp.name));
    }
    return found;
  };

  const recheck = async (identity: Identity): Promise<boolean> => {
    const idp = byIssuer.get(identity.issuer);
    const fail = async (reason: string) => {
      await deps.endSessions?.(identity.userId);
      await audit.record({
        event: 'user.upstream_check_failed',
        result: 'failure',
        userId: identity.userId,
        details: { provider: identity.provider, reason },
      });
      return false;
    };
    // Matched by issuer: the pair (issuer, subject) is the identity; the name is only a label.
    if (!idp) return fail('provider_not_configured');
    if (!identity.refreshToken) return fail('no_refresh_token');
    let claims: Record<string, unknown>;
    let refreshToken: string | null;
    try {
      const configuration = await client(idp);
      const tokens = await oidc.refreshTokenGrant(configuration, identity.refreshToken);
      refreshToken = tokens.refresh_token ?? null;
      const fromIdToken = tokens.claims();
      claims = fromIdToken
        ? { ...fromIdToken }
        : { ...(await oidc.fetchUserInfo(configuration, tokens.access_token, identity.subject)) };
    } catch (err) {
      // The provider's answer may carry details; the log gets its code, never a token.
      const code = (err as { code?: string; error?: string }).error ?? (err as { code?: string }).code ?? 'error';
      log.info({ event: 'upstream.refresh_failed', provider: idp.name, code }, 'identity provider refused a re-check');
      return fail(`refresh_failed:${String(code).slice(0, 64)}`);
    }
    if (claims.sub !== identity.subject) return fail('subject_changed');
    const verdict = judgeClaims(idp, claims);
    if (!verdict.ok) return fail(verdict.reason);
    await identities.confirmed(identity.issuer, identity.subject, { email: verdict.email, refreshToken });
    await applyAdminRole(users, audit, identity.userId, verdict.isAdmin, idp.name);
    // Only when the answer carries the claim: some providers put groups in the sign-in's ID token
    // alone, and reading "no claim" as "no groups" would take users out of restricted groups.
    if (claims[idp.groupsClaim] !== undefined) {
      await deps.syncGroups?.(identity.userId, identity.issuer, idp.name, claims[idp.groupsClaim]);
    }
    return true;
  };

  return {
    enabled: config.identityProviders.length > 0,
    list: config.identityProviders,
    find: (name: string) => byName.get(name),
    client,
    /**
     * For findAccount on a refresh: true when every upstream account linked to the user was
     * confirmed within the interval, or is confirmed again now; false (fail closed) otherwise.
     */
    async inGoodStanding(userId: string): Promise<boolean> {
      const links = await identities.forUser(userId);
      const now = epochSeconds();
      for (const link of links) {
        if (now - link.checkedAt < config.sso.recheckInterval) continue;
        const key = `${link.issuer}\n${link.subject}`;
        let pending = inFlight.get(key);
        if (!pending) {
          pending = recheck(link).finally(() => inFlight.delete(key));
          inFlight.set(key, pending);
        }
        if (!(await pending)) return false;
      }
      return true;
    },
  };
}

/** The provider's admin groups decide the admin role, when the operator named any. */
export async function applyAdminRole(
  users: UserRepository,
  audit: Audit,
  userId: string,
  isAdmin: boolean | undefined,
  provider: string,
): Promise<void> {
  if (isAdmin === undefined) return;
  const user = await users.findById(userId);
  if (!user || user.isAdmin === isAdmin) return;
  await users.setAdmin(userId, isAdmin);
  await audit.record({
    event: 'user.role_changed',
    result: 'success',
    userId,
    details: { by: 'system', provider, admin: isAdmin },
  });
}
